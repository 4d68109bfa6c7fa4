/* Fixture written for picf's tests: the 2018 shape of nstar's execveat call (x86_64 number only). */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#define EXECVEAT_CODE 322 /* want: syscall-number-hardcoded */

int run_tar(int fd, char **argv, char **envp) {
  syscall(EXECVEAT_CODE, fd, "", argv, envp, AT_EMPTY_PATH);
  perror("execveat");
  return 1;
}
