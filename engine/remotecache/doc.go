// Package remotecache shares store objects between machines through any
// OCI registry (distribution, zot, Harbor, GHCR, ECR, GitLab's): a build
// farm's runners push the checkpoints they commit and pull the ones they
// lack, so a tree that costs minutes under TCG is built once per fleet.
// osbuild's content IDs are the keys: an object's ID names everything
// that went into it.
//
// # Artifact format
//
// Each object is one OCI artifact (an OCI image manifest, schema 2, with
// an artifactType) in the cache's repository, tagged by the object's ID
// (64 lowercase hex digits, a valid OCI tag):
//
//	<registry>/<repository>:<id>
//	manifest   application/vnd.oci.image.manifest.v1+json
//	  artifactType  application/vnd.osbuild-vm.object.v1
//	  config        application/vnd.osbuild-vm.object.config.v1+json
//	                {"id": <id>, "format": <treetar.Version>,
//	                 "tree": {"sha256": <hex>, "size": <bytes>},
//	                 "meta": {<stage id>: <stage metadata>}}
//	  layers[0]     application/vnd.osbuild-vm.tree.v1.tar
//	                the object's tree.tar (formats/treetar), as the store keeps it
//	  annotations   org.osbuild-vm.object.id     = <id>
//	                org.osbuild-vm.tree.format   = <treetar.Version>
//
// The manifest and config are written in one canonical form (Go's
// encoding/json, keys sorted, no time stamp), so two runners that push
// the same object push the same bytes and the same digests: concurrent
// pushes of one ID agree. An artifact of another tree format version is
// not pulled (the store would not use it) but rebuilt.
//
// # Trust model
//
// Integrity comes from digests. A pull reads nothing unbounded: the
// manifest and config have size limits, the tree must be exactly the size
// its descriptor says, and every blob is checked against its digest as it
// arrives. The tree is imported through the store's own commit path: it
// is written into a pending object of this run (out of every other run's
// and the build VM's sight), hashed by the store as it is written, and
// committed only when that digest equals the one the artifact names in
// its layer descriptor and its config. A transfer that fails or is cut
// off leaves nothing behind but a pending directory that the store
// removes; a half-imported object is never usable. From then on the
// store checks the object's digest before every use, as for its own.
//
// Who may push is the registry's access control: a content ID names the
// inputs of a tree, not its bytes, so whoever may push to the repository
// decides what tree an ID stands for, exactly as whoever may write a
// shared store directory does. A pulled object is never trusted more than
// one the build VM produced: its tree is read by the same hostile-input-
// safe tree reader on export, and runs in the VM as input. Grant push
// rights to the CI runners that build, and pull rights to the rest.
//
// Credentials come from the standard Docker configuration file
// ($DOCKER_CONFIG/config.json, else ~/.docker/config.json: "auths"
// entries and credential helpers, as `docker login` writes them). The
// registry is spoken to over HTTPS unless plain HTTP is asked for.
package remotecache
