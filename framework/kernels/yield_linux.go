package kernels

import "syscall"

// yieldThread gives this thread's processor to another runnable thread of
// any process, if there is one (sched_yield).
func yieldThread() { syscall.Syscall(syscall.SYS_SCHED_YIELD, 0, 0, 0) }
