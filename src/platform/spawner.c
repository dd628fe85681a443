/*
 * The watches' native spawner (started by spawner.ts, never by hand; built into
 * dist/platform/arms-spawner by scripts/build-native.js when a C compiler is present). armsd is a
 * ~100 MB node process: each fork of it for a watched program costs milliseconds on its event loop.
 * This small resident process starts the programs instead and tells armsd their PIDs and, when
 * they end, how. A fork of this ~1 MB process costs tens of microseconds; it does not wait for the
 * exec: each child reports a failed exec through a close-on-exec pipe (end of file: it exec'd), so
 * many programs asked for at once exec side by side on every core.
 *
 * A program is started exactly as node's spawn(file, args, {detached: true, cwd, env, uid, gid,
 * stdio: ['ignore', log, log]}) starts it: a session and process group of its own (setsid), stdin
 * from /dev/null, stdout and stderr appended to its log file (created 0640), the working folder,
 * supplementary groups dropped then gid and uid set when asked, every signal back to its default
 * and unblocked, `file` looked up on the PATH of the program's environment when it holds no '/'.
 *
 * Requests on stdin, each a frame: a 4-byte little-endian length, then that many bytes of fields,
 * each ending with NUL:
 *   spawn ID FILE CWD LOG UID GID KEEP NARGS ARG... NENV NAME=VALUE...
 *                            UID, GID: empty for unchanged. KEEP 1: the request is kept while the
 *                            program runs, so that it can be started again without armsd (approve)
 *   approve PID MINRUN NSET NAME=VALUE...
 *                            armsd's restart policy has already decided: when this (kept) program
 *                            ends after running at least MINRUN ms, start it again at once, with
 *                            these variables set, and say R instead of X. Once only: the new
 *                            program needs an approve of its own. Never for an exit code of 2
 *                            within its first second (a usage error: armsd's to judge).
 *   hold ID PID              no more restart of PID without armsd; answered H ID (after an R
 *                            for PID, when it had already been started again)
 * Answers on stdout, one per line:
 *   P ID PID START           started (the program has exec'd); START: its start time in clock
 *                            ticks since boot (/proc/PID/stat field 22), -1 where unknown
 *   E ID ERRNO-NAME MESSAGE  not started (MESSAGE: what failed, in words)
 *   X PID CODE SIGNAL        a program it started has ended (CODE or SIGNAL is -1)
 *   R PID CODE SIGNAL RANMS NEWPID START
 *                            an approved program ended after RANMS ms and is running again as
 *                            NEWPID (exec'd). A failed new start is told as the plain end (X).
 *   H ID                     the hold is in force
 * Ends are reaped by the PID each SIGCHLD names (passed through the self-pipe: the kernel finds it
 * at once), and by a walk of every child 20 ms after a wake, for the signals that coalesced.
 * Descriptors it inherits beyond 0-2 are closed at its start. It exits when stdin closes; the programs it started keep running (they are sessions of their own).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAX_FRAME (64 * 1024 * 1024)

static int sigpipe_fds[2] = {-1, -1};

/* the signals a started program must get back to their default: those this process ignores or
 * catches (see main) */
static int to_reset[NSIG];
static int nreset;

/* The self-pipe carries the PID the signal names: that child is reaped first, by its PID (the
 * kernel finds it at once; waitpid(-1) walks every child, milliseconds with 10,000 programs). */
static void on_sigchld(int sig, siginfo_t *info, void *ctx) {
    (void)sig;
    (void)ctx;
    int saved = errno;
    pid_t pid = info ? info->si_pid : 0;
    ssize_t r = write(sigpipe_fds[1], &pid, sizeof pid);
    (void)r;
    errno = saved;
}

/* stdout: whole lines, written at once */
static void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void say(const char *fmt, ...) {
    char line[1024];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    if (n < 0) return;
    if (n >= (int)sizeof line) n = sizeof line - 1;
    const char *p = line;
    while (n > 0) {
        ssize_t w = write(1, p, (size_t)n);
        if (w < 0) {
            if (errno == EINTR) continue;
            exit(0); /* armsd is gone */
        }
        p += w;
        n -= (int)w;
    }
}

static const char *errno_name(int e) {
    switch (e) {
    case ENOENT: return "ENOENT";
    case EACCES: return "EACCES";
    case EPERM: return "EPERM";
    case ENOTDIR: return "ENOTDIR";
    case ENOEXEC: return "ENOEXEC";
    case E2BIG: return "E2BIG";
    case ENOMEM: return "ENOMEM";
    case EAGAIN: return "EAGAIN";
    case ELOOP: return "ELOOP";
    case ENAMETOOLONG: return "ENAMETOOLONG";
    case EISDIR: return "EISDIR";
    case ETXTBSY: return "ETXTBSY";
    case EROFS: return "EROFS";
    case ENOSPC: return "ENOSPC";
    case EINVAL: return "EINVAL";
    default: return "EOTHER";
    }
}

/* what a child that could not exec writes to its pipe before it ends */
struct failure {
    int step; /* 0 exec, 1 chdir, 2 setgroups/setgid/setuid, 3 stdio */
    int err;
};

static const char *step_words[] = {"exec", "cannot enter the working folder", "cannot switch to the user", "cannot set up its output"};

/* the programs forked but not yet known to have exec'd */
struct starting {
    pid_t pid;
    int fd; /* the read end of its close-on-exec pipe */
    char id[24];
    char cwd[PATH_MAX];
    /* a restart without armsd: the program it replaces, how that ended, how long it ran */
    pid_t old;
    int old_status;
    long long ran_ms;
    char hold_id[24]; /* a hold of `old` that came meanwhile: answered after the R */
};
static struct starting *starting;
static size_t nstarting, capstarting;

static void report_exit(pid_t pid, int status) {
    if (WIFEXITED(status)) say("X %ld %d -1\n", (long)pid, WEXITSTATUS(status));
    else if (WIFSIGNALED(status)) say("X %ld -1 %d\n", (long)pid, WTERMSIG(status));
}

static long long now_ms(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (long long)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

/* The fields of a spawn frame, pointing into it. */
struct spec {
    const char *id, *file, *cwd, *log, *uid, *gid, *keep;
    char **argv; /* NULL-terminated */
    char **envp; /* NULL-terminated */
};

/* A running program whose request is kept (KEEP 1): what armsd may approve a restart of. */
struct kept {
    pid_t pid;
    char *frame; /* the spawn frame, owned; spec points into it */
    struct spec spec;
    char **set; /* variables set by approves (owned strings), NULL-terminated */
    int approved;
    long long min_run_ms;
    long long started_ms;
};
static struct kept *kept;
static size_t nkept, capkept;

static struct kept *kept_of(pid_t pid) {
    for (size_t i = 0; i < nkept; i++)
        if (kept[i].pid == pid) return &kept[i];
    return NULL;
}

static void kept_free(struct kept *k) {
    free(k->frame);
    free(k->spec.argv);
    free(k->spec.envp);
    if (k->set)
        for (char **v = k->set; *v; v++) free(*v);
    free(k->set);
    *k = kept[--nkept];
}

/* Linux: the process's start time (clock ticks since boot, field 22 of /proc/PID/stat), which with
 * its PID names it (armsd's process identity); -1 elsewhere or when it is gone. Read here, after the
 * exec, so that armsd need not. */
static long long start_ticks(pid_t pid) {
    char path[64], buf[1024];
    snprintf(path, sizeof path, "/proc/%ld/stat", (long)pid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return -1;
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0) return -1;
    buf[n] = '\0';
    char *p = strrchr(buf, ')');
    if (!p) return -1;
    p += 2; /* field 3 */
    for (int field = 3; field < 22; field++) {
        p = strchr(p, ' ');
        if (!p) return -1;
        p++;
    }
    return strtoll(p, NULL, 10);
}

/* The child at `i` has exec'd (end of file on its pipe) or failed (a struct failure): says which,
 * and forgets it. Returns 1 when it exec'd. Its pipe is ready: the exec closed it, or the child
 * wrote before ending. */
static int settle(size_t i) {
    struct starting *c = &starting[i];
    struct failure f;
    ssize_t r;
    do r = read(c->fd, &f, sizeof f);
    while (r < 0 && errno == EINTR);
    int ok = r == 0;
    if (c->old > 0) {
        /* a restart without armsd: told as R once it has exec'd, else as the plain end it replaced */
        int st = c->old_status;
        int code = WIFEXITED(st) ? WEXITSTATUS(st) : -1, sig = WIFSIGNALED(st) ? WTERMSIG(st) : -1;
        if (ok) say("R %ld %d %d %lld %ld %lld\n", (long)c->old, code, sig, c->ran_ms, (long)c->pid, start_ticks(c->pid));
        else {
            struct kept *k = kept_of(c->pid);
            if (k) kept_free(k);
            report_exit(c->old, st);
        }
        if (c->hold_id[0]) say("H %s\n", c->hold_id);
        close(c->fd);
        starting[i] = starting[--nstarting];
        return ok;
    }
    if (!ok) {
        struct kept *k = kept_of(c->pid);
        if (k) kept_free(k);
    }
    if (ok) say("P %s %ld %lld\n", c->id, (long)c->pid, start_ticks(c->pid));
    else if (r != (ssize_t)sizeof f) say("E %s EOTHER cannot tell whether it started\n", c->id);
    else if (f.step == 0) say("E %s %s %s\n", c->id, errno_name(f.err), strerror(f.err));
    else say("E %s %s %s %s: %s\n", c->id, errno_name(f.err), step_words[f.step], f.step == 1 ? c->cwd : "", strerror(f.err));
    close(c->fd);
    starting[i] = starting[--nstarting];
    return ok;
}

static int respawn(struct kept *k, int status);

static void ended(pid_t pid, int status);

/* The PIDs the signals named, reaped by PID (the kernel finds each at once). */
static void reap_named(const pid_t *named, size_t n) {
    for (size_t i = 0; i < n; i++) {
        int status;
        if (named[i] > 0 && waitpid(named[i], &status, WNOHANG) == named[i]) ended(named[i], status);
    }
}

/* Every other ended child: a signal that came while one was pending named nobody (signals
 * coalesce). This walks all the children: run soon after a wake (WALK_MS), not on every one. */
#define WALK_MS 20
static void reap_all(void) {
    for (;;) {
        int status;
        pid_t pid = waitpid(-1, &status, WNOHANG);
        if (pid <= 0) return;
        ended(pid, status);
    }
}

static void ended(pid_t pid, int status) {
    {
        /* an end before its start was told: the start first (a failed one is not an end to tell) */
        int told = 1;
        for (size_t i = 0; i < nstarting; i++)
            if (starting[i].pid == pid) {
                told = settle(i);
                break;
            }
        if (!told) return;
        struct kept *k = kept_of(pid);
        if (k && respawn(k, status)) return;
        if (k) kept_free(k);
        report_exit(pid, status);
    }
}

static int parse(char *buf, size_t len, struct spec *s) {
    char *fields[7];
    char *p = buf, *end = buf + len;
    const char *op;
    if (len == 0 || end[-1] != '\0') return -1;
#define NEXT(dst)                      \
    do {                               \
        if (p >= end) return -1;       \
        dst = p;                       \
        p += strlen(p) + 1;            \
    } while (0)
    NEXT(op);
    if (strcmp(op, "spawn") != 0) return -1;
    for (int i = 0; i < 7; i++) NEXT(fields[i]);
    s->id = fields[0];
    s->file = fields[1];
    s->cwd = fields[2];
    s->log = fields[3];
    s->uid = fields[4];
    s->gid = fields[5];
    s->keep = fields[6];
    char *count;
    NEXT(count);
    long nargs = strtol(count, NULL, 10);
    if (nargs < 0 || nargs > 1000000) return -1;
    s->argv = calloc((size_t)nargs + 2, sizeof(char *));
    if (!s->argv) return -1;
    s->argv[0] = (char *)s->file;
    for (long i = 0; i < nargs; i++) NEXT(s->argv[i + 1]);
    NEXT(count);
    long nenv = strtol(count, NULL, 10);
    if (nenv < 0 || nenv > 1000000) return -1;
    s->envp = calloc((size_t)nenv + 1, sizeof(char *));
    if (!s->envp) return -1;
    for (long i = 0; i < nenv; i++) NEXT(s->envp[i]);
#undef NEXT
    return 0;
}

/* The candidates for `file`: itself when it holds a '/', else each folder of PATH (from the
 * program's environment; unset: the system's default) joined with it, an empty entry meaning the
 * working folder. */
static char **candidates(const char *file, char **envp) {
    if (strchr(file, '/')) {
        char **c = calloc(2, sizeof(char *));
        if (c) c[0] = strdup(file);
        return c;
    }
    const char *path = "/usr/local/bin:/usr/bin:/bin";
    for (char **e = envp; *e; e++)
        if (strncmp(*e, "PATH=", 5) == 0) path = *e + 5;
    size_t n = 1;
    for (const char *q = path; *q; q++) n += *q == ':';
    char **c = calloc(n + 1, sizeof(char *));
    if (!c) return NULL;
    size_t i = 0;
    const char *start = path;
    for (;;) {
        const char *colon = strchr(start, ':');
        size_t dl = colon ? (size_t)(colon - start) : strlen(start);
        size_t fl = strlen(file);
        char *full = malloc(dl + fl + 2);
        if (!full) break;
        if (dl == 0) memcpy(full, file, fl + 1);
        else {
            memcpy(full, start, dl);
            full[dl] = '/';
            memcpy(full + dl + 1, file, fl + 1);
        }
        c[i++] = full;
        if (!colon) break;
        start = colon + 1;
    }
    return c;
}

/* The forked child: becomes the program, or says on `fd` why it could not and ends. */
static void child(const struct spec *s, char **cands, char **envp, int devnull, int out, int fd, int set_uid, uid_t uid, int set_gid, gid_t gid) __attribute__((noreturn));
static void child(const struct spec *s, char **cands, char **envp, int devnull, int out, int fd, int set_uid, uid_t uid, int set_gid, gid_t gid) {
    struct failure f = {0, 0};
    struct sigaction dfl;
    memset(&dfl, 0, sizeof dfl);
    dfl.sa_handler = SIG_DFL;
    /* exec puts every caught signal back to its default; an ignored one stays ignored: those, and
     * our SIGCHLD handler (until the exec), are what to reset (found once, at start) */
    for (int i = 0; i < nreset; i++) sigaction(to_reset[i], &dfl, NULL);
    setsid();
    if (dup2(devnull, 0) < 0 || dup2(out, 1) < 0 || dup2(out, 2) < 0) {
        f.step = 3;
        goto failed;
    }
    if (s->cwd[0] && chdir(s->cwd) < 0) {
        f.step = 1;
        goto failed;
    }
    if (set_uid || set_gid) {
        f.step = 2;
        if (setgroups(0, NULL) < 0 && errno != EPERM) goto failed;
        if ((set_gid && setgid(gid) < 0) || (set_uid && setuid(uid) < 0)) goto failed;
    }
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    f.step = 0;
    int first = 0;
    for (char **c = cands; *c; c++) {
        execve(*c, s->argv, envp);
        /* as execvp: go on past what is not there; remember a permission problem */
        if (errno == EACCES) first = EACCES;
        else if (errno != ENOENT && errno != ENOTDIR) {
            first = errno;
            break;
        }
    }
    errno = first ? first : errno;
failed:
    f.err = errno;
    ssize_t w = write(fd, &f, sizeof f);
    (void)w;
    _exit(127);
}

/* Forks the program of `s` (its exec told later, by settle()); its PID, or -1 when it could not be
 * forked. `old` > 0: a restart without armsd, replacing `old`, which ended with `old_status` after
 * `ran_ms`: nothing is said here (settle() says R, or the plain end). */
static pid_t spawn_one(struct spec *s, char **envp, const sigset_t *all, pid_t old, int old_status, long long ran_ms) {
    char **cands = candidates(s->file, envp);
    int out = -1, devnull = -1, fds[2] = {-1, -1};
    pid_t pid = -1;
    int quiet = old > 0;
#define SAY_E(...)                  \
    do {                            \
        if (!quiet) say(__VA_ARGS__); \
    } while (0)
    if (!cands) {
        SAY_E("E %s ENOMEM out of memory\n", s->id);
        return -1;
    }
    if (strlen(s->id) >= sizeof starting[0].id || strlen(s->cwd) >= PATH_MAX) {
        SAY_E("E %s ENAMETOOLONG the working folder's name is too long\n", s->id);
        goto done;
    }
    out = open(s->log, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
    if (out < 0) {
        int e = errno;
        SAY_E("E %s %s cannot open the watch log %s: %s\n", s->id, errno_name(e), s->log, strerror(e));
        goto done;
    }
    devnull = open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (devnull < 0 || pipe2(fds, O_CLOEXEC) < 0) {
        int e = errno;
        SAY_E("E %s %s cannot start a process: %s\n", s->id, errno_name(e), strerror(e));
        goto done;
    }
    if (nstarting == capstarting) {
        size_t cap = capstarting ? capstarting * 2 : 64;
        struct starting *grown = realloc(starting, cap * sizeof *grown);
        if (!grown) {
            SAY_E("E %s ENOMEM out of memory\n", s->id);
            goto done;
        }
        starting = grown;
        capstarting = cap;
    }
    int set_uid = s->uid[0] != '\0', set_gid = s->gid[0] != '\0';
    uid_t uid = set_uid ? (uid_t)strtoul(s->uid, NULL, 10) : 0;
    gid_t gid = set_gid ? (gid_t)strtoul(s->gid, NULL, 10) : 0;

    sigset_t before;
    /* Our SIGCHLD handler must not run in the child before it has reset it. */
    sigprocmask(SIG_SETMASK, all, &before);
    pid = fork();
    if (pid == 0) {
        close(fds[0]);
        child(s, cands, envp, devnull, out, fds[1], set_uid, uid, set_gid, gid);
    }
    int fork_err = errno;
    sigprocmask(SIG_SETMASK, &before, NULL);
    if (pid < 0) {
        SAY_E("E %s %s cannot start a process: %s\n", s->id, errno_name(fork_err), strerror(fork_err));
        pid = -1;
        goto done;
    }
    struct starting *c = &starting[nstarting++];
    c->pid = pid;
    c->fd = fds[0];
    fds[0] = -1;
    strcpy(c->id, s->id);
    strcpy(c->cwd, s->cwd);
    c->old = old;
    c->old_status = old_status;
    c->ran_ms = ran_ms;
    c->hold_id[0] = '\0';
done:
    if (out >= 0) close(out);
    if (devnull >= 0) close(devnull);
    if (fds[0] >= 0) close(fds[0]);
    if (fds[1] >= 0) close(fds[1]);
    for (char **c = cands; *c; c++) free(*c);
    free(cands);
    return pid;
#undef SAY_E
}

static sigset_t all_signals;

/* The environment of a kept program's next start: its request's, with the approves' variables. */
static char **next_env(const struct kept *k) {
    size_t n = 0, nset = 0;
    for (char **e = k->spec.envp; *e; e++) n++;
    if (k->set)
        for (char **v = k->set; *v; v++) nset++;
    char **env = calloc(n + nset + 1, sizeof(char *));
    if (!env) return NULL;
    size_t at = 0;
    for (char **e = k->spec.envp; *e; e++) {
        const char *eq = strchr(*e, '=');
        size_t name = eq ? (size_t)(eq - *e) + 1 : strlen(*e);
        int replaced = 0;
        for (size_t j = 0; j < nset; j++)
            if (strncmp(k->set[j], *e, name) == 0) replaced = 1;
        if (!replaced) env[at++] = *e;
    }
    for (size_t j = 0; j < nset; j++) env[at++] = k->set[j];
    return env;
}

/* An approved program has ended: starts it again at once when the approval covers this end.
 * Returns 1 when a new start is under way (its R or X comes from settle()). */
static int respawn(struct kept *k, int status) {
    long long ran = now_ms() - k->started_ms;
    if (!k->approved || ran < k->min_run_ms) return 0;
    if (WIFEXITED(status) && WEXITSTATUS(status) == 2 && ran < 1000) return 0;
    char **env = next_env(k);
    if (!env) return 0;
    pid_t old = k->pid;
    pid_t pid = spawn_one(&k->spec, env, &all_signals, old, status, ran);
    free(env);
    if (pid < 0) return 0;
    k->pid = pid;
    k->approved = 0;
    k->started_ms = now_ms();
    return 1;
}

/* approve PID MINRUN NSET NAME=VALUE... */
static int approve(char *p, char *end) {
    char *f[3];
    for (int i = 0; i < 3; i++) {
        if (p >= end) return -1;
        f[i] = p;
        p += strlen(p) + 1;
    }
    struct kept *k = kept_of((pid_t)strtol(f[0], NULL, 10));
    long nset = strtol(f[2], NULL, 10);
    if (nset < 0 || nset > 1000) return -1;
    if (!k) return 0; /* ended meanwhile: its end is on its way */
    char **set = calloc((size_t)nset + 1, sizeof(char *));
    if (!set) return -1;
    for (long i = 0; i < nset; i++) {
        if (p >= end || !(set[i] = strdup(p))) {
            for (long j = 0; j < i; j++) free(set[j]);
            free(set);
            return -1;
        }
        p += strlen(p) + 1;
    }
    if (k->set)
        for (char **v = k->set; *v; v++) free(*v);
    free(k->set);
    k->set = set;
    k->min_run_ms = strtoll(f[1], NULL, 10);
    k->approved = 1;
    return 0;
}

/* One request frame (fields each ending with NUL): spawn, approve or hold. */
static void serve(char *frame, size_t len) {
    if (len == 0 || frame[len - 1] != '\0') {
        say("E ? EINVAL a request the spawner could not read\n");
        return;
    }
    char *end = frame + len;
    if (strcmp(frame, "approve") == 0) {
        if (approve(frame + strlen(frame) + 1, end) < 0) say("E ? EINVAL an approve the spawner could not read\n");
        return;
    }
    if (strcmp(frame, "hold") == 0) {
        char *id = frame + strlen(frame) + 1;
        char *pid = id < end ? id + strlen(id) + 1 : end;
        if (pid >= end) {
            say("E ? EINVAL a hold the spawner could not read\n");
            return;
        }
        pid_t target = (pid_t)strtol(pid, NULL, 10);
        struct kept *k = kept_of(target);
        if (k) k->approved = 0;
        /* started again and not yet told: the hold is answered after the R */
        for (size_t i = 0; i < nstarting; i++)
            if (starting[i].old == target && strlen(id) < sizeof starting[i].hold_id) {
                strcpy(starting[i].hold_id, id);
                return;
            }
        say("H %s\n", id);
        return;
    }
    /* spawn: a kept request owns a copy of its frame */
    char *copy = malloc(len);
    if (!copy) {
        say("E ? ENOMEM out of memory\n");
        return;
    }
    memcpy(copy, frame, len);
    struct spec s;
    memset(&s, 0, sizeof s);
    if (parse(copy, len, &s) < 0) {
        say("E ? EINVAL a request the spawner could not read\n");
    } else {
        pid_t pid = spawn_one(&s, s.envp, &all_signals, 0, 0, 0);
        if (pid > 0 && strcmp(s.keep, "1") == 0) {
            if (nkept == capkept) {
                size_t cap = capkept ? capkept * 2 : 64;
                struct kept *grown = realloc(kept, cap * sizeof *grown);
                if (grown) {
                    kept = grown;
                    capkept = cap;
                }
            }
            if (nkept < capkept) {
                kept[nkept++] = (struct kept){pid, copy, s, NULL, 0, 0, now_ms()};
                return; /* the frame and the spec's arrays are the kept program's now */
            }
        }
    }
    free(s.argv);
    free(s.envp);
    free(copy);
}

/* What armsd's node left open without close-on-exec must not reach the programs. */
static void close_inherited(void) {
#ifdef SYS_close_range
    if (syscall(SYS_close_range, 3U, ~0U, 0U) == 0) return;
#endif
    long max = sysconf(_SC_OPEN_MAX);
    if (max < 0 || max > 65536) max = 65536;
    for (int fd = 3; fd < max; fd++) close(fd);
}

int main(void) {
    close_inherited();
    if (pipe(sigpipe_fds) < 0) return 1;
    for (int i = 0; i < 2; i++) {
        fcntl(sigpipe_fds[i], F_SETFD, FD_CLOEXEC);
        fcntl(sigpipe_fds[i], F_SETFL, O_NONBLOCK);
    }
    fcntl(0, F_SETFD, FD_CLOEXEC);
    fcntl(1, F_SETFD, FD_CLOEXEC);
    signal(SIGPIPE, SIG_IGN);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_sigchld;
    sa.sa_flags = SA_RESTART | SA_NOCLDSTOP | SA_SIGINFO;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGCHLD, &sa, NULL);
    for (int sig = 1; sig < NSIG; sig++) {
        struct sigaction now;
        if (sigaction(sig, NULL, &now) == 0 && now.sa_handler != SIG_DFL) to_reset[nreset++] = sig;
    }
    sigfillset(&all_signals);

    struct pollfd *fds = NULL;
    size_t capfds = 0;
    long long walk_at = -1; /* when the walk of every child is due (after a SIGCHLD), or -1 */
    char *in = NULL; /* what came on stdin, not yet served */
    size_t inlen = 0, incap = 0;
    for (;;) {
        if (capfds < nstarting + 2) {
            capfds = (nstarting + 2) * 2;
            struct pollfd *grown = realloc(fds, capfds * sizeof *fds);
            if (!grown) return 2;
            fds = grown;
        }
        fds[0] = (struct pollfd){0, POLLIN, 0};
        fds[1] = (struct pollfd){sigpipe_fds[0], POLLIN, 0};
        size_t watched = nstarting;
        for (size_t i = 0; i < watched; i++) fds[2 + i] = (struct pollfd){starting[i].fd, POLLIN, 0};
        int wait_ms = -1;
        if (walk_at >= 0) {
            long long left = walk_at - now_ms();
            wait_ms = left > 0 ? (int)left : 0;
        }
        if (poll(fds, 2 + watched, wait_ms) < 0) {
            if (errno == EINTR) continue;
            return 1;
        }
        /* starts settled first: a program's start is told before its end */
        for (size_t i = watched; i-- > 0;) {
            if (!fds[2 + i].revents) continue;
            for (size_t j = 0; j < nstarting; j++)
                if (starting[j].fd == fds[2 + i].fd) {
                    settle(j);
                    break;
                }
        }
        if (fds[1].revents) {
            pid_t named[256];
            ssize_t got;
            size_t n = 0;
            while (n < 256 && (got = read(sigpipe_fds[0], named + n, (256 - n) * sizeof *named)) > 0) n += (size_t)got / sizeof *named;
            reap_named(named, n);
            if (walk_at < 0) walk_at = now_ms() + WALK_MS;
        }
        if (walk_at >= 0 && now_ms() >= walk_at) {
            walk_at = -1;
            reap_all();
        }
        if (fds[0].revents) {
            /* everything that has come: every whole frame in it is served now */
            if (inlen == incap) {
                size_t cap = incap ? incap * 2 : 65536;
                char *grown = realloc(in, cap);
                if (!grown) return 2;
                in = grown;
                incap = cap;
            }
            ssize_t r = read(0, in + inlen, incap - inlen);
            if (r < 0 && errno == EINTR) continue;
            if (r <= 0) return 0; /* armsd closed us (or is gone): the programs go on */
            inlen += (size_t)r;
            size_t at = 0;
            while (inlen - at >= 4) {
                const uint8_t *head = (const uint8_t *)in + at;
                size_t len = (size_t)head[0] | (size_t)head[1] << 8 | (size_t)head[2] << 16 | (size_t)head[3] << 24;
                if (len > MAX_FRAME) return 2;
                if (inlen - at - 4 < len) {
                    /* a frame larger than the buffer: make room for it */
                    if (len + 4 > incap) {
                        char *grown = realloc(in, len + 4);
                        if (!grown) return 2;
                        in = grown;
                        incap = len + 4;
                    }
                    break;
                }
                serve(in + at + 4, len);
                at += 4 + len;
            }
            memmove(in, in + at, inlen - at);
            inlen -= at;
        }
    }
}
