/*
 * armsd's voice to systemd (started by sd-notify.ts, never by hand; built into
 * dist/platform/arms-sd-notify by scripts/build-native.js when a C compiler is present).
 *
 * systemd's notification protocol is one datagram per message on the AF_UNIX socket named by
 * NOTIFY_SOCKET (a path, or "@name" for the abstract namespace). Node has no Unix datagram
 * sockets, so this helper sends them: each line read on stdin is sent as one datagram, as it is
 * ("READY=1", "WATCHDOG=1", "STATUS=...", "STOPPING=1"). It never speaks on its own: armsd writes
 * WATCHDOG=1 from its event loop, so a hung armsd stops the pings and systemd restarts it. It exits
 * as soon as stdin closes (armsd ended). A message that cannot be sent is said once on stderr.
 */
#define _POSIX_C_SOURCE 200809L
#define _DEFAULT_SOURCE
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#ifndef SOCK_CLOEXEC
#define SOCK_CLOEXEC 0
#endif

int main(void) {
    const char *name = getenv("NOTIFY_SOCKET");
    if (!name || (name[0] != '/' && name[0] != '@')) {
        fprintf(stderr, "arms-sd-notify: NOTIFY_SOCKET is %s: expected a socket path or @abstract name\n", name ? name : "not set");
        return 2;
    }
    struct sockaddr_un addr;
    memset(&addr, 0, sizeof addr);
    addr.sun_family = AF_UNIX;
    size_t len = strlen(name);
    if (len >= sizeof addr.sun_path) {
        fprintf(stderr, "arms-sd-notify: NOTIFY_SOCKET %s is longer than a socket path may be\n", name);
        return 2;
    }
    memcpy(addr.sun_path, name, len);
    if (name[0] == '@') addr.sun_path[0] = '\0'; /* abstract: no trailing NUL counted */
    socklen_t addrlen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len + (name[0] == '/' ? 1 : 0));

    int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        fprintf(stderr, "arms-sd-notify: socket: %s\n", strerror(errno));
        return 1;
    }
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    int said = 0;
    while ((n = getline(&line, &cap, stdin)) > 0) {
        if (line[n - 1] == '\n') line[--n] = '\0';
        if (n == 0) continue;
        if (sendto(fd, line, (size_t)n, MSG_NOSIGNAL, (struct sockaddr *)&addr, addrlen) < 0) {
            /* Said once until a send works again: systemd gone or the socket removed; armsd goes on. */
            if (!said) fprintf(stderr, "arms-sd-notify: cannot send to %s: %s\n", name, strerror(errno));
            fflush(stderr);
            said = 1;
        } else {
            said = 0;
        }
    }
    free(line);
    return 0;
}
