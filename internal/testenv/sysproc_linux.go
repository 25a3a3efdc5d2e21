package testenv

import "syscall"

// childProcAttr makes the kernel kill a child server when the test binary dies, e.g. on
// a go test -timeout panic, where t.Cleanup never runs and the server would otherwise
// outlive the run holding its port.
func childProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}

// isolatedProcAttr is childProcAttr in a process group of the child's own, so that a
// signal meant for the test's group (a terminal's Ctrl-C, a job runner stopping its job)
// reaches the test, whose cleanup then ends the child in order, instead of racing it.
func isolatedProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL, Setpgid: true}
}
