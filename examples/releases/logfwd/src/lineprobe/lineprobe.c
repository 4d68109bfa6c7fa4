/* lineprobe: send one line to logfwd on 127.0.0.1:PORT. Exit 0 when it was accepted. */
#include "config.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

int main(int argc, char **argv) {
  if (argc != 3) {
    fprintf(stderr, "usage: %s PORT LINE\n", argv[0]);
    return 2;
  }
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in addr;
  memset(&addr, 0, sizeof addr);
  addr.sin_family = AF_INET;
  addr.sin_port = htons((unsigned short)atoi(argv[1]));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (fd < 0 || connect(fd, (struct sockaddr *)&addr, sizeof addr) != 0) {
    perror("lineprobe: connect");
    return 1;
  }
  size_t n = strlen(argv[2]);
  if (write(fd, argv[2], n) != (ssize_t)n || write(fd, "\n", 1) != 1) {
    perror("lineprobe: write");
    return 1;
  }
  close(fd);
  printf("sent %zu bytes (%s, configured for %d-bit pointers)\n", n + 1,
         sizeof(void *) == 4 ? "32-bit" : "64-bit", LINEPROBE_POINTER_BITS);
  return 0;
}
