// Package store is the object store of osbuild-vm: committed trees, their
// stage metadata and the downloaded source items of every run, kept in one
// directory (osbuild's --store) that several runs may share at once.
//
// It follows the semantics of osbuild's ObjectStore and FsCache (objects
// named by content ID, immutable once committed, least-recently-used
// eviction under --cache-max-size, nothing cached by default) but keeps
// each tree as a single archive in the tree format (formats/treetar): trees
// are built inside the VM and move in bulk, and the archive keeps owners,
// modes and xattrs that an unprivileged host cannot represent on its own
// file system.
//
// Trees come from the build VM, which the host does not trust, and a store
// may be shared or damaged. So the store writes each tree.tar itself from
// the bytes the host copied out of the VM's share (Pending.WriteTree),
// records their sha256 and the format version in info.json, and checks the
// digest before an object is used again (Tree). An object of another
// format version (Lookup) or whose tree no longer matches its digest (Tree)
// is never read: it is removed, unless another run is using it, and the
// caller rebuilds it.
//
// On-disk layout:
//
//	<store>/
//	├── CACHEDIR.TAG          marks the store for backup tools
//	├── cache.json            {"maximum-size": N | "unlimited"} recorded by --cache-max-size
//	├── evict.lock            flock, exclusive while a commit accounts sizes and evicts
//	├── objects/
//	│   └── <id>/             a committed object, immutable, id = 64 lowercase hex
//	│       ├── tree.tar      the tree (formats/treetar)
//	│       ├── meta.json     stage id -> stage metadata
//	│       ├── info.json     {"size": bytes on disk, "format": treetar.Version,
//	│       │                  "sha256": of tree.tar}
//	│       └── object.lock   flock: shared while a run uses the object, exclusive
//	│                         while evicting; its atime records the last use (LRU)
//	├── sources/
//	│   └── <type>/<checksum> source items (curl and inline items: org.osbuild.files)
//	└── tmp/
//	    ├── <run>.lock        flock, held exclusively by a live run
//	    └── <run>/            that run's area:
//	        ├── vm-out/       the build VM's one writable share (made by the CLI);
//	        │                 archives are copied out of it, never moved
//	        ├── pending-<n>/  objects being written (no VM share reaches them)
//	        ├── floating/<id>/ committed objects kept out of the cache (the VM
//	        │                 reads them through a read-only share)
//	        └── evicted-<n>/  objects being removed
//
// A run that dies leaves tmp/<run>/ with an unlocked <run>.lock; the next
// Open removes both. A commit is a rename of a complete, fsynced directory
// into objects/, so a crash never leaves a partial object. Two runs that
// commit the same id end with one of the two objects; the other run keeps
// using its own copy until it closes the store.
package store
