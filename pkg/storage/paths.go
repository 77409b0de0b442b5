package storage

// The layout is registry:2's, exactly, so that an existing
// /var/lib/registry is served as it is and registry:2 reads what we write:
//
//	<root>/docker/registry/v2/
//	├── blobs/
//	│   └── <alg>/<first two hex>/<hex>/data          content, shared by all repositories
//	└── repositories/
//	    └── <name>/                                    name may contain '/': nested directories
//	        ├── _layers/<alg>/<hex>/link               "<alg>:<hex>": blob visible in <name>
//	        ├── _manifests/
//	        │   ├── revisions/<alg>/<hex>/link         manifest stored in <name> (body in blobs/)
//	        │   ├── tags/<tag>/
//	        │   │   ├── current/link                   digest the tag points at
//	        │   │   └── index/<alg>/<hex>/link         every digest the tag has pointed at
//	        │   └── referrers/<alg>/<subject hex>/<alg>/<hex>/link
//	        │                                          ours: manifests whose subject is the
//	        │                                          given digest (registry:2 ignores it)
//	        └── _uploads/<uuid>/
//	            ├── data                               bytes received so far
//	            ├── startedat                          RFC 3339 creation time
//	            └── hashstates/<alg>/<offset>          resumable hash state at offset
//
// Links hold the digest with no trailing newline. Everything below builds
// paths only from values already validated by package reference or by
// validUploadID, and the driver checks the path grammar once more.

import (
	"path"
	"strconv"

	"github.com/opencontainers/go-digest"
)

const (
	v2Root    = "/docker/registry/v2"
	blobsRoot = v2Root + "/blobs"
	reposRoot = v2Root + "/repositories"
)

func blobDir(d digest.Digest) string {
	hex := d.Encoded()
	return path.Join(blobsRoot, d.Algorithm().String(), hex[:2], hex)
}

func blobDataPath(d digest.Digest) string { return blobDir(d) + "/data" }

func repoPath(repo string) string { return path.Join(reposRoot, repo) }

func layersPath(repo string) string { return repoPath(repo) + "/_layers" }

func layerDir(repo string, d digest.Digest) string {
	return path.Join(layersPath(repo), d.Algorithm().String(), d.Encoded())
}

func layerLinkPath(repo string, d digest.Digest) string { return layerDir(repo, d) + "/link" }

func manifestsPath(repo string) string { return repoPath(repo) + "/_manifests" }

func revisionsPath(repo string) string { return manifestsPath(repo) + "/revisions" }

func revisionDir(repo string, d digest.Digest) string {
	return path.Join(revisionsPath(repo), d.Algorithm().String(), d.Encoded())
}

func revisionLinkPath(repo string, d digest.Digest) string { return revisionDir(repo, d) + "/link" }

func tagsPath(repo string) string { return manifestsPath(repo) + "/tags" }

func tagDir(repo, tag string) string { return path.Join(tagsPath(repo), tag) }

func tagCurrentLinkPath(repo, tag string) string { return tagDir(repo, tag) + "/current/link" }

func tagIndexPath(repo, tag string) string { return tagDir(repo, tag) + "/index" }

func tagIndexDir(repo, tag string, d digest.Digest) string {
	return path.Join(tagIndexPath(repo, tag), d.Algorithm().String(), d.Encoded())
}

func tagIndexLinkPath(repo, tag string, d digest.Digest) string {
	return tagIndexDir(repo, tag, d) + "/link"
}

func referrersPath(repo string) string { return manifestsPath(repo) + "/referrers" }

func referrersOfPath(repo string, subject digest.Digest) string {
	return path.Join(referrersPath(repo), subject.Algorithm().String(), subject.Encoded())
}

func referrerDir(repo string, subject, d digest.Digest) string {
	return path.Join(referrersOfPath(repo, subject), d.Algorithm().String(), d.Encoded())
}

func referrerLinkPath(repo string, subject, d digest.Digest) string {
	return referrerDir(repo, subject, d) + "/link"
}

func uploadsPath(repo string) string { return repoPath(repo) + "/_uploads" }

func uploadDir(repo, id string) string { return uploadsPath(repo) + "/" + id }

func uploadDataPath(repo, id string) string { return uploadDir(repo, id) + "/data" }

func uploadStartedAtPath(repo, id string) string { return uploadDir(repo, id) + "/startedat" }

func uploadHashStatesPath(repo, id string) string { return uploadDir(repo, id) + "/hashstates" }

func uploadHashStatePath(repo, id string, alg digest.Algorithm, offset int64) string {
	return path.Join(uploadHashStatesPath(repo, id), alg.String(), strconv.FormatInt(offset, 10))
}

// healthProbePath lies outside docker/ so registry:2 never sees probes.
func healthProbePath(id string) string { return "/.health-probe-" + id }
