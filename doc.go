// Package customs holds the domain of Customs, a self-hosted container-image
// security service: the image inventory (one row per repository tag), the
// registries it is synchronized from, synchronization tasks, identities and
// the scopes that every query runs in, and the one application error type.
//
// It imports only the standard library (depcheck_test.go enforces it). It
// knows nothing of HTTP, SQL or registry protocols: the adapters in the
// sub-packages (oci, reposync, iam, httpapi, store/...) implement or consume
// the types declared here, and cmd/customs wires them together.
package customs
