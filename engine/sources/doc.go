// Package sources fetches the items of a manifest's "sources" section into
// the object store, verifying every item against its checksum, each item
// once: an item already in the store is never fetched again.
//
// It implements osbuild's org.osbuild.curl (v2 "items" or "urls"),
// org.osbuild.inline and the v1 org.osbuild.files source natively in Go.
// All three store into <store>/sources/org.osbuild.files/<checksum>, as
// osbuild does, so a stage finds a file by its checksum whichever source
// brought it. Downloads run in parallel (bounded), retry transient
// failures with exponential backoff, time out on connect and on idle
// transfers, and write through a temporary file that is hashed while it is
// written, fsynced and renamed into place only when the digest matches.
package sources
