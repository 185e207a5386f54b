package iam

// realParams are the production costs, for the tests that need them.
var realParams = params

// Every other test hashes at a trivial cost: the service tests hash dozens of
// passwords, and the cost is measured by BenchmarkHashPassword.
func init() { params = argon2Params{memory: 64, time: 1, threads: 1} }

// UseRealPasswordCost makes new hashes use the production costs until the
// returned function is called. Tests calling it must not run in parallel.
func UseRealPasswordCost() (restore func()) {
	old := params
	params = realParams
	return func() { params = old }
}
