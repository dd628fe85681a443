/* What the floor programs (spawn-floor.c, restarter.c) start, and how: `sleep 1000` by vfork, in a
 * session of its own (as armsd's spawner starts a watched program), nothing else. */
#include <unistd.h>

extern char **environ;

static pid_t __attribute__((noinline)) start_sleep(const char *sleep_path) {
    static char *const argv[] = {"sleep", "1000", NULL};
    pid_t pid = vfork();
    if (pid == 0) {
        setsid();
        execve(sleep_path, argv, environ);
        _exit(127);
    }
    return pid;
}
