/*
 * The watches' native spawner (started by spawner.ts, never by hand; built into
 * dist/platform/arms-spawner by scripts/build-native.js when a C compiler is present). armsd is a
 * ~100 MB node process: each fork of it for a watched program costs milliseconds on its event loop.
 * This small resident process starts the programs instead and tells armsd their PIDs and, when
 * they end, how. It starts each with vfork: the child borrows this process's memory until its exec,
 * so nothing is copied (a fork copies the page table of every kept request, and every child must
 * then unmap it again and close each descriptor this process holds: a thousand restarts at once
 * cost over a second that way), and a failed exec is told in that shared memory, no pipe needed.
 * This process waits only until the kernel has taken the exec (the program's loading and linking
 * run after it, side by side on every core) — as node's spawn also waits for the exec (libuv reads
 * its exec pipe until then). The price: a child that hangs before its exec (its working folder or
 * its program on a hard-mounted network share that does not answer) holds this process's starts
 * until it returns; with fork it held only its own. A thousand
 * programs that die at once are started again side by side, one starting thread per CPU (at most
 * four), 64 at a time, the R lines of each 64 told before the next.
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
 *   hold ID PID              no more restart of PID without armsd; answered H ID (after the R
 *                            for PID, when it had already been started again)
 * Answers on stdout, one per line:
 *   P ID PID START           started (its exec has been taken); START: its start time in clock
 *                            ticks since boot (/proc/PID/stat field 22), -1 where unknown
 *   E ID ERRNO-NAME MESSAGE  not started (MESSAGE: what failed, in words)
 *   X PID CODE SIGNAL        a program it started has ended (CODE or SIGNAL is -1)
 *   R PID CODE SIGNAL RANMS NEWPID START
 *                            an approved program ended after RANMS ms and is running again as
 *                            NEWPID (exec'd). A failed new start is told as the plain end (X).
 *   H ID                     the hold is in force (any restart already made was told before it)
 * Ends are reaped by the PID each SIGCHLD names (passed through the self-pipe: the kernel finds it
 * at once), and by a walk of every child 20 ms after a wake, for the signals that coalesced.
 * Descriptors it inherits beyond 0-2 are closed at its start. It exits when stdin closes; the
 * programs it started keep running (they are sessions of their own).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
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

/* stdout: lines gathered, then written together by flush() once the work of a wake is done. A
 * line that tells a start ends with the program's start time, read only then: /proc/PID/stat of a
 * program whose exec is still under way waits for that exec to finish, and reading it at once
 * would make every start wait for the whole exec of the one before. */
static char *out;
static size_t outlen, outcap;
/* where a start time goes in `out` (" START\n"), in order */
struct tick {
    size_t at;
    pid_t pid;
};
static struct tick *ticks;
static size_t nticks, capticks;

static long long start_ticks(pid_t pid);

static void write_all(const char *p, size_t n) {
    while (n > 0) {
        ssize_t w = write(1, p, n);
        if (w < 0) {
            if (errno == EINTR) continue;
            exit(0); /* armsd is gone */
        }
        p += w;
        n -= (size_t)w;
    }
}

static void flush(void) {
    size_t from = 0;
    for (size_t i = 0; i < nticks; i++) {
        char tail[32];
        int n = snprintf(tail, sizeof tail, " %lld\n", start_ticks(ticks[i].pid));
        write_all(out + from, ticks[i].at - from);
        write_all(tail, (size_t)n);
        from = ticks[i].at;
    }
    write_all(out + from, outlen - from);
    outlen = 0;
    nticks = 0;
}

/* Room for n more bytes, and for a start time when `started`; 0 when out of memory. */
static int room(size_t n, int started) {
    if (outlen + n > outcap) {
        size_t cap = outcap ? outcap : 65536;
        while (cap < outlen + n) cap *= 2;
        char *grown = realloc(out, cap);
        if (!grown) return 0;
        out = grown;
        outcap = cap;
    }
    if (started && nticks == capticks) {
        size_t cap = capticks ? capticks * 2 : 256;
        struct tick *grown = realloc(ticks, cap * sizeof *grown);
        if (!grown) return 0;
        ticks = grown;
        capticks = cap;
    }
    return 1;
}

/* Adds a line (for a start, all of it but its start time and newline). Out of memory, what was
 * gathered is written at once, and this line after it: no line is lost. */
static void gather(pid_t started, const char *fmt, va_list ap) {
    char line[PATH_MAX + 512];
    int n = vsnprintf(line, sizeof line, fmt, ap);
    if (n < 0) return;
    if ((size_t)n >= sizeof line) {
        n = sizeof line - 1; /* cut short, still a line */
        if (!started) line[n - 1] = '\n';
    }
    if (!room((size_t)n, started > 0)) {
        flush();
        write_all(line, (size_t)n);
        if (started) {
            char tail[32];
            write_all(tail, (size_t)snprintf(tail, sizeof tail, " %lld\n", start_ticks(started)));
        }
        return;
    }
    memcpy(out + outlen, line, (size_t)n);
    outlen += (size_t)n;
    if (started) ticks[nticks++] = (struct tick){outlen, started};
}

static void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void say(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    gather(0, fmt, ap);
    va_end(ap);
}

/* a line telling that `pid` started: its start time and the newline are added by flush() */
static void say_started(pid_t pid, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void say_started(pid_t pid, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    gather(pid, fmt, ap);
    va_end(ap);
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

/* What a child that could not exec leaves, before it ends, in the memory it shares with this
 * process until then (vfork); step -1: it exec'd. */
struct failure {
    int step; /* 0 exec, 1 chdir, 2 setgroups/setgid/setuid, 3 stdio */
    int err;
};
static __thread volatile struct failure failed; /* each starting thread's own */

static const char *step_words[] = {"exec", "cannot enter the working folder", "cannot switch to the user", "cannot set up its output"};

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

/* The kept programs by PID (each end looks its program up: with 10,000 of them a walk of `kept`
 * per end is what a thousand ends at once would wait on). Open addressing, linear probing; a slot
 * holds the index in `kept` plus one, 0 when free. */
static pid_t *slot_pid;
static size_t *slot_at;
static size_t nslots; /* a power of two, more than twice nkept */

static size_t home_slot(pid_t pid) {
    return ((size_t)(uint32_t)pid * 2654435761u) & (nslots - 1);
}

static size_t find_slot(pid_t pid) {
    size_t i = home_slot(pid);
    while (slot_at[i] && slot_pid[i] != pid) i = (i + 1) & (nslots - 1);
    return i;
}

static struct kept *kept_of(pid_t pid) {
    if (!nslots) return NULL;
    size_t i = find_slot(pid);
    return slot_at[i] ? &kept[slot_at[i] - 1] : NULL;
}

/* kept[at] is now `pid`'s. Returns -1 when the map cannot grow (out of memory). */
static int map_put(pid_t pid, size_t at) {
    if ((nkept + 1) * 2 > nslots) {
        size_t n = nslots ? nslots * 2 : 256;
        pid_t *pids = calloc(n, sizeof *pids);
        size_t *ats = calloc(n, sizeof *ats);
        if (!pids || !ats) {
            free(pids);
            free(ats);
            return -1;
        }
        free(slot_pid);
        free(slot_at);
        slot_pid = pids;
        slot_at = ats;
        nslots = n;
        for (size_t j = 0; j < nkept; j++)
            if (j != at) {
                size_t i = find_slot(kept[j].pid);
                slot_pid[i] = kept[j].pid;
                slot_at[i] = j + 1;
            }
    }
    size_t i = find_slot(pid);
    slot_pid[i] = pid;
    slot_at[i] = at + 1;
    return 0;
}

/* Forgets `pid`'s slot; the slots after it that would not be found past the hole move back. */
static void map_drop(pid_t pid) {
    if (!nslots) return;
    size_t hole = find_slot(pid);
    if (!slot_at[hole]) return;
    slot_at[hole] = 0;
    for (size_t j = (hole + 1) & (nslots - 1); slot_at[j]; j = (j + 1) & (nslots - 1)) {
        size_t home = home_slot(slot_pid[j]);
        /* j stays when its home lies cyclically in (hole, j] */
        int stays = hole <= j ? (home > hole && home <= j) : (home > hole || home <= j);
        if (stays) continue;
        slot_pid[hole] = slot_pid[j];
        slot_at[hole] = slot_at[j];
        slot_at[j] = 0;
        hole = j;
    }
}

static void kept_free(struct kept *k) {
    free(k->frame);
    free(k->spec.argv);
    free(k->spec.envp);
    if (k->set)
        for (char **v = k->set; *v; v++) free(*v);
    free(k->set);
    map_drop(k->pid);
    size_t at = (size_t)(k - kept), last = --nkept;
    if (at != last) {
        *k = kept[last];
        if (k->pid > 0) slot_at[find_slot(k->pid)] = at + 1;
    }
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

static int approved_for(const struct kept *k, int status);
static void restart_later(pid_t pid, int status);

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
    struct kept *k = kept_of(pid);
    if (k && approved_for(k, status)) {
        restart_later(pid, status);
        return;
    }
    if (k) kept_free(k);
    report_exit(pid, status);
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

#ifdef __linux__
/* glibc's wrappers would also switch the other threads of this process (the starting threads) */
#define switch_groups() syscall(SYS_setgroups, 0, NULL)
#define switch_gid(g) syscall(SYS_setgid, (g))
#define switch_uid(u) syscall(SYS_setuid, (u))
#else
#define switch_groups() setgroups(0, NULL)
#define switch_gid(g) setgid(g)
#define switch_uid(u) setuid(u)
#endif

/* The child (of vfork: it runs in this process's memory until its exec, which it must not change
 * but for `failed`): becomes the program, or leaves in `failed` why it could not and ends. Only
 * system calls here. */
static void child(const struct spec *s, char **cands, char **envp, int devnull, int out, int set_uid, uid_t uid, int set_gid, gid_t gid) __attribute__((noreturn));
static void child(const struct spec *s, char **cands, char **envp, int devnull, int out, int set_uid, uid_t uid, int set_gid, gid_t gid) {
    int step = 3;
    struct sigaction dfl;
    memset(&dfl, 0, sizeof dfl);
    dfl.sa_handler = SIG_DFL;
    /* exec puts every caught signal back to its default; an ignored one stays ignored: those, and
     * our SIGCHLD handler (until the exec), are what to reset (found once, at start) */
    for (int i = 0; i < nreset; i++) sigaction(to_reset[i], &dfl, NULL);
    setsid();
    if (dup2(devnull, 0) < 0 || dup2(out, 1) < 0 || dup2(out, 2) < 0) goto failed;
    step = 1;
    if (s->cwd[0] && chdir(s->cwd) < 0) goto failed;
    if (set_uid || set_gid) {
        step = 2;
        if (switch_groups() < 0 && errno != EPERM) goto failed;
        if ((set_gid && switch_gid(gid) < 0) || (set_uid && switch_uid(uid) < 0)) goto failed;
    }
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    step = 0;
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
    failed.err = errno;
    failed.step = step;
    _exit(127);
}

/* vfork and the child, apart: as few of the caller's variables as possible live across the vfork. */
static pid_t __attribute__((noinline)) start_child(const struct spec *s, char **cands, char **envp, int devnull, int out, int set_uid, uid_t uid, int set_gid, gid_t gid) {
    pid_t pid = vfork();
    if (pid == 0) child(s, cands, envp, devnull, out, set_uid, uid, set_gid, gid);
    return pid;
}

static sigset_t all_signals;

/* Starts the program of `s`: its PID once its exec has been taken, else -1. Says P or E, unless
 * `quiet` (a restart without armsd: the caller says R, or the plain end it replaced). */
static pid_t spawn_one(const struct spec *s, char **envp, int quiet) {
    char **cands = candidates(s->file, envp);
    int out = -1, devnull = -1;
    pid_t pid = -1;
#define SAY_E(...)                    \
    do {                              \
        if (!quiet) say(__VA_ARGS__); \
    } while (0)
    if (!cands) {
        SAY_E("E %s ENOMEM out of memory\n", s->id);
        return -1;
    }
    out = open(s->log, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
    if (out < 0) {
        int e = errno;
        SAY_E("E %s %s cannot open the watch log %s: %s\n", s->id, errno_name(e), s->log, strerror(e));
        goto done;
    }
    devnull = open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (devnull < 0) {
        int e = errno;
        SAY_E("E %s %s cannot start a process: %s\n", s->id, errno_name(e), strerror(e));
        goto done;
    }
    int set_uid = s->uid[0] != '\0', set_gid = s->gid[0] != '\0';
    uid_t uid = set_uid ? (uid_t)strtoul(s->uid, NULL, 10) : 0;
    gid_t gid = set_gid ? (gid_t)strtoul(s->gid, NULL, 10) : 0;

    sigset_t before;
    /* No handler of ours may run in the child, on this process's memory, before it has reset them. */
    pthread_sigmask(SIG_SETMASK, &all_signals, &before);
    failed.step = -1;
    failed.err = 0;
    pid = start_child(s, cands, envp, devnull, out, set_uid, uid, set_gid, gid);
    int fork_err = errno;
    pthread_sigmask(SIG_SETMASK, &before, NULL);
    if (pid < 0) {
        SAY_E("E %s %s cannot start a process: %s\n", s->id, errno_name(fork_err), strerror(fork_err));
        goto done;
    }
    if (failed.step >= 0) {
        /* it ended without its exec: reaped here, its end is no program's end */
        int status, step = failed.step, e = failed.err;
        while (waitpid(pid, &status, 0) < 0 && errno == EINTR) continue;
        pid = -1;
        if (step == 0) SAY_E("E %s %s %s\n", s->id, errno_name(e), strerror(e));
        else SAY_E("E %s %s %s %s: %s\n", s->id, errno_name(e), step_words[step], step == 1 ? s->cwd : "", strerror(e));
        goto done;
    }
    if (!quiet) say_started(pid, "P %s %ld", s->id, (long)pid);
done:
    if (out >= 0) close(out);
    if (devnull >= 0) close(devnull);
    for (char **c = cands; *c; c++) free(*c);
    free(cands);
    return pid;
#undef SAY_E
}


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

/* Whether the approval of kept program `k` covers this end (a restart without armsd). */
static int approved_for(const struct kept *k, int status) {
    long long ran = now_ms() - k->started_ms;
    if (!k->approved || ran < k->min_run_ms) return 0;
    return !(WIFEXITED(status) && WEXITSTATUS(status) == 2 && ran < 1000);
}

/* The approved ends of one wake, started again together (run_restarts): many programs that die at
 * once are started side by side, one starting thread per CPU. A thread waits in vfork while its
 * child gets to its exec, and a thousand deaths at once are a thousand of those waits. */
struct restart {
    pid_t old;
    int status;
    size_t at; /* its kept program's index */
    long long ran_ms;
    char **env;
    pid_t pid; /* the new program, or -1 */
};
static struct restart *restarts;
static size_t nrestarts, caprestarts;

static void restart_later(pid_t pid, int status) {
    if (nrestarts == caprestarts) {
        size_t cap = caprestarts ? caprestarts * 2 : 256;
        struct restart *grown = realloc(restarts, cap * sizeof *grown);
        if (!grown) {
            struct kept *k = kept_of(pid);
            if (k) kept_free(k);
            report_exit(pid, status);
            return;
        }
        restarts = grown;
        caprestarts = cap;
    }
    restarts[nrestarts++] = (struct restart){pid, status, 0, 0, NULL, -1};
}

/* The chunk the starting threads work on, and the next of it one takes (__atomic). */
static struct restart *chunk;
static size_t chunk_len, chunk_next;

static void *starting_thread(void *unused) {
    (void)unused;
    for (;;) {
        size_t i = __atomic_fetch_add(&chunk_next, 1, __ATOMIC_RELAXED);
        if (i >= chunk_len) return NULL;
        struct restart *r = &chunk[i];
        if (r->env) r->pid = spawn_one(&kept[r->at].spec, r->env, 1);
    }
}

/* Threads that start programs beside the main one: one per CPU beyond the first, at most 3. */
static int helper_threads;

/* Starts again every program restart_later() was given, RESTART_CHUNK at a time, and says after
 * each chunk R for each new program, or the plain end (X) when it could not be started: armsd
 * hears of the first ones while the others start. */
#define RESTART_CHUNK 64
static void run_restarts(void) {
    for (size_t from = 0; from < nrestarts; from += RESTART_CHUNK) {
        chunk = restarts + from;
        chunk_len = nrestarts - from < RESTART_CHUNK ? nrestarts - from : RESTART_CHUNK;
        chunk_next = 0;
        long long now = now_ms();
        for (size_t i = 0; i < chunk_len; i++) {
            struct restart *r = &chunk[i];
            struct kept *k = kept_of(r->old);
            r->at = (size_t)(k - kept);
            r->env = next_env(k);
            r->ran_ms = now - k->started_ms;
            /* out of the map now: a new program of this chunk may be given one of these PIDs */
            map_drop(r->old);
            k->pid = 0;
        }
        /* Nothing in `kept` moves until every thread is done. */
        pthread_t threads[3];
        int started = 0;
        if (chunk_len >= 8) {
            /* the threads get no signal: the SIGCHLD handler runs in the main one */
            sigset_t before;
            pthread_sigmask(SIG_SETMASK, &all_signals, &before);
            for (; started < helper_threads; started++)
                if (pthread_create(&threads[started], NULL, starting_thread, NULL) != 0) break;
            pthread_sigmask(SIG_SETMASK, &before, NULL);
        }
        starting_thread(NULL);
        for (int t = 0; t < started; t++) pthread_join(threads[t], NULL);
        /* the kept programs that are no more: freed last, highest index first (a free moves the
         * last one into the hole) */
        size_t gone[RESTART_CHUNK], ngone = 0;
        for (size_t i = 0; i < chunk_len; i++) {
            struct restart *r = &chunk[i];
            struct kept *k = &kept[r->at];
            free(r->env);
            if (r->pid < 0) {
                gone[ngone++] = r->at;
                report_exit(r->old, r->status);
                continue;
            }
            k->approved = 0;
            k->started_ms = now_ms();
            if (map_put(r->pid, r->at) == 0) k->pid = r->pid;
            else gone[ngone++] = r->at; /* cannot be found by its PID: no more restarts without armsd */
            int st = r->status;
            int code = WIFEXITED(st) ? WEXITSTATUS(st) : -1, sig = WIFSIGNALED(st) ? WTERMSIG(st) : -1;
            say_started(r->pid, "R %ld %d %d %lld %ld", (long)r->old, code, sig, r->ran_ms, (long)r->pid);
        }
        for (size_t i = 1; i < ngone; i++)
            for (size_t j = i; j > 0 && gone[j - 1] < gone[j]; j--) {
                size_t t = gone[j];
                gone[j] = gone[j - 1];
                gone[j - 1] = t;
            }
        for (size_t i = 0; i < ngone; i++) kept_free(&kept[gone[i]]);
        flush();
    }
    nrestarts = 0;
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
        pid_t pid = spawn_one(&s, s.envp, 0);
        if (pid > 0 && strcmp(s.keep, "1") == 0) {
            if (nkept == capkept) {
                size_t cap = capkept ? capkept * 2 : 64;
                struct kept *grown = realloc(kept, cap * sizeof *grown);
                if (grown) {
                    kept = grown;
                    capkept = cap;
                }
            }
            if (nkept < capkept && map_put(pid, nkept) == 0) {
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
#ifdef F_SETPIPE_SZ
    /* a thousand R lines at once must not wait for armsd to read the first ones (64 KiB by default) */
    fcntl(1, F_SETPIPE_SZ, 1 << 20);
#endif
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
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    helper_threads = cpus > 4 ? 3 : cpus > 1 ? (int)cpus - 1 : 0;

    long long walk_at = -1; /* when the walk of every child is due (after a SIGCHLD), or -1 */
    char *in = NULL; /* what came on stdin, not yet served */
    size_t inlen = 0, incap = 0;
    for (;;) {
        struct pollfd fds[2] = {{0, POLLIN, 0}, {sigpipe_fds[0], POLLIN, 0}};
        int wait_ms = -1;
        if (walk_at >= 0) {
            long long left = walk_at - now_ms();
            wait_ms = left > 0 ? (int)left : 0;
        }
        flush(); /* what the last wake did, told before waiting again */
        if (poll(fds, 2, wait_ms) < 0) {
            if (errno == EINTR) continue;
            return 1;
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
        run_restarts();
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
            if (r <= 0) {
                flush();
                return 0; /* armsd closed us (or is gone): the programs go on */
            }
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
