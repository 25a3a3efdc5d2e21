package testenv

import "syscall"

// childProcAttr makes the kernel kill a child server when the test binary dies, e.g. on
// a go test -timeout panic, where t.Cleanup never runs and the server would otherwise
// outlive the run holding its port.
func childProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
