/* Fixture written for picf's lint tests: syscall numbers in C. */
#define _GNU_SOURCE
#include <sys/syscall.h>
#include <unistd.h>

#ifdef __x86_64__
#define MEMFD_CODE 319
#else
#define MEMFD_CODE SYS_memfd_create
#endif

#define CLONE3_CODE 435

int a(void) { return syscall(SYS_execveat, 0, "", 0, 0, 0); }
int b(void) { return syscall(MEMFD_CODE, "x", 0); }
int c(void) { return syscall(318, 0, 0, 0); } /* want: syscall-number-hardcoded */
int d(void) { return syscall(CLONE3_CODE, 0, 0); }
