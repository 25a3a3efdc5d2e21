//go:build !linux

package testenv

import "syscall"

// childProcAttr has no parent-death signal to ask for outside Linux; t.Cleanup is the
// only teardown there.
func childProcAttr() *syscall.SysProcAttr { return nil }

// isolatedProcAttr: see the Linux version; elsewhere the defaults apply.
func isolatedProcAttr() *syscall.SysProcAttr { return nil }
