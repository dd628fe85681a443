/*
 * The disk probe's helper process, native (started by disk.ts, never by hand; built into
 * dist/monitors/disk-probe by scripts/build-native.js when a C compiler is present). It does what
 * disk-prober.js does, in about 1 MB instead of a second node process (~50 MB RSS): a call on a
 * hung disk blocks its thread for good, so the I/O lives in a process ARMRSP can abandon.
 *
 * One request per line on stdin, fields separated by NUL (a path holds any byte but NUL; disk.ts
 * refuses paths with a line break):
 *   ID NUL MINFREE NUL DIR NUL FILE LF        MINFREE: bytes, or empty for no free-space check
 * one answer per line on stdout, in any order:
 *   ID SP 1|0 SP DETAIL LF
 * Each request runs in a thread of its own, so a hung disk never holds up the others. The details
 * are word for word those of disk-prober.ts (errors as node words them: "EROFS: read-only file
 * system, open '/x'"). It exits as soon as stdin closes, hung threads or not.
 */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

#ifndef O_CLOEXEC
#define O_CLOEXEC 0
#endif

static pthread_mutex_t out_lock = PTHREAD_MUTEX_INITIALIZER;

struct request {
    char *line; /* owns the fields below */
    const char *id;
    const char *dir;
    const char *file;
    int has_min;
    double min_free;
};

/* libuv's names and words, so that both helpers give the same details (util.getSystemErrorMap). */
static const struct { int no; const char *code; const char *text; } ERRORS[] = {
    {EPERM, "EPERM", "operation not permitted"},
    {ENOENT, "ENOENT", "no such file or directory"},
    {EINTR, "EINTR", "interrupted system call"},
    {EIO, "EIO", "i/o error"},
    {ENXIO, "ENXIO", "no such device or address"},
    {EBADF, "EBADF", "bad file descriptor"},
    {EAGAIN, "EAGAIN", "resource temporarily unavailable"},
    {ENOMEM, "ENOMEM", "not enough memory"},
    {EACCES, "EACCES", "permission denied"},
    {EFAULT, "EFAULT", "bad address in system call argument"},
    {EBUSY, "EBUSY", "resource busy or locked"},
    {EEXIST, "EEXIST", "file already exists"},
    {EXDEV, "EXDEV", "cross-device link not permitted"},
    {ENODEV, "ENODEV", "no such device"},
    {ENOTDIR, "ENOTDIR", "not a directory"},
    {EISDIR, "EISDIR", "illegal operation on a directory"},
    {EINVAL, "EINVAL", "invalid argument"},
    {ENFILE, "ENFILE", "file table overflow"},
    {EMFILE, "EMFILE", "too many open files"},
    {ETXTBSY, "ETXTBSY", "text file is busy"},
    {EFBIG, "EFBIG", "file too large"},
    {ENOSPC, "ENOSPC", "no space left on device"},
    {ESPIPE, "ESPIPE", "invalid seek"},
    {EROFS, "EROFS", "read-only file system"},
    {EMLINK, "EMLINK", "too many links"},
    {EPIPE, "EPIPE", "broken pipe"},
    {ERANGE, "ERANGE", "result too large"},
    {ENAMETOOLONG, "ENAMETOOLONG", "name too long"},
    {ENOSYS, "ENOSYS", "function not implemented"},
    {ENOTEMPTY, "ENOTEMPTY", "directory not empty"},
    {ELOOP, "ELOOP", "too many symbolic links encountered"},
    {EOVERFLOW, "EOVERFLOW", "value too large for defined data type"},
    {ENOTSUP, "ENOTSUP", "operation not supported on socket"},
    {ETIMEDOUT, "ETIMEDOUT", "connection timed out"},
    {ECANCELED, "ECANCELED", "operation canceled"},
#ifdef ENODATA
    {ENODATA, "ENODATA", "no data available"},
#endif
#ifdef EREMOTEIO
    {EREMOTEIO, "EREMOTEIO", "remote I/O error"},
#endif
#ifdef EHOSTDOWN
    {EHOSTDOWN, "EHOSTDOWN", "host is down"},
#endif
    /* Unknown to libuv (node says "UNKNOWN: unknown error"), worth naming on a disk: */
#ifdef ESTALE
    {ESTALE, "ESTALE", "stale file handle"},
#endif
#ifdef EDQUOT
    {EDQUOT, "EDQUOT", "disk quota exceeded"},
#endif
};

static void die_quietly(void) { _exit(0); }

static char *fmt(const char *f, ...) {
    va_list ap;
    va_start(ap, f);
    int n = vsnprintf(NULL, 0, f, ap);
    va_end(ap);
    char *s = malloc((size_t)n + 1);
    if (!s) die_quietly();
    va_start(ap, f);
    vsnprintf(s, (size_t)n + 1, f, ap);
    va_end(ap);
    return s;
}

/* As node words a failed fs call: "EACCES: permission denied, open '/x/y'". */
static char *syscall_error(int no, const char *syscall, const char *path) {
    const char *code = NULL, *text = NULL;
    char other[64];
    for (size_t i = 0; i < sizeof ERRORS / sizeof ERRORS[0]; i++) {
        if (ERRORS[i].no == no) {
            code = ERRORS[i].code;
            text = ERRORS[i].text;
            break;
        }
    }
    if (!code) {
        snprintf(other, sizeof other, "errno %d", no);
        code = other;
        text = strerror(no);
    }
    return path ? fmt("%s: %s, %s '%s'", code, text, syscall, path) : fmt("%s: %s, %s", code, text, syscall);
}

/* disk-prober.ts's size(): 1536 -> "1.5 KB", 2^60 -> "1024 PB". */
static void size(double bytes, char *out, size_t n) {
    static const char *units[] = {"B", "KB", "MB", "GB", "TB", "PB"};
    double v = bytes;
    int u = 0;
    while (v >= 1024 && u < 5) {
        v /= 1024;
        u++;
    }
    if (u == 0) {
        snprintf(out, n, "%.15g %s", v, units[u]);
        return;
    }
    /* Number(v.toFixed(1)): half away from zero, no trailing ".0" */
    double r = floor(v * 10 + 0.5) / 10;
    if (r == floor(r)) snprintf(out, n, "%.0f %s", r, units[u]);
    else snprintf(out, n, "%.1f %s", r, units[u]);
}

static int write_all(int fd, const char *p, size_t n) {
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0) {
            if (errno == EINTR) continue;
            return -1;
        }
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

static void answer(const char *id, int ok, const char *detail) {
    char *line = fmt("%s %d %s\n", id, ok ? 1 : 0, detail);
    /* one write per answer under the lock: lines from different threads never mix */
    pthread_mutex_lock(&out_lock);
    int r = write_all(1, line, strlen(line));
    pthread_mutex_unlock(&out_lock);
    free(line);
    if (r < 0) die_quietly(); /* ARMRSP is gone */
}

static long long ms_since(const struct timespec *t0) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (long long)(t.tv_sec - t0->tv_sec) * 1000 + (t.tv_nsec - t0->tv_nsec) / 1000000;
}

static void *probe(void *arg) {
    struct request *r = arg;
    struct timespec t0, now;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    clock_gettime(CLOCK_REALTIME, &now);
    char data[160];
    int len = snprintf(data, sizeof data, "ARMS disk probe %lld.%09ld %ld %s\n", (long long)now.tv_sec, now.tv_nsec, (long)getpid(), r->id);
    if (len < 0 || len >= (int)sizeof data) len = (int)sizeof data - 1;
    char back[sizeof data + 1];
    const char *step = "create";
    char *detail = NULL;
    int ok = 0, created = 0, e;

    int fd = open(r->file, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
    if (fd < 0) {
        e = errno;
        detail = e == ENOENT ? fmt("the folder %s does not exist (ENOENT)", r->dir) : NULL;
        if (!detail) {
            char *why = syscall_error(e, "open", r->file);
            detail = fmt("cannot %s the probe file %s: %s", step, r->file, why);
            free(why);
        }
        goto done;
    }
    created = 1;
    const char *failed_call = NULL;
    const char *failed_path = NULL;
    step = "write";
    if (write_all(fd, data, (size_t)len) < 0) failed_call = "write";
    if (!failed_call) {
        step = "fsync";
        if (fsync(fd) < 0) failed_call = "fsync";
    }
    e = errno;
    if (close(fd) < 0 && !failed_call) {
        e = errno;
        failed_call = "close";
    }
    if (!failed_call) {
        step = "read back";
        fd = open(r->file, O_RDONLY | O_CLOEXEC);
        if (fd < 0) {
            e = errno;
            failed_call = "open";
            failed_path = r->file;
        } else {
            size_t got = 0;
            while (got < sizeof back) {
                ssize_t n = read(fd, back + got, sizeof back - got);
                if (n < 0 && errno == EINTR) continue;
                if (n < 0) {
                    e = errno;
                    failed_call = "read";
                    break;
                }
                if (n == 0) break;
                got += (size_t)n;
            }
            close(fd);
            if (!failed_call && (got != (size_t)len || memcmp(back, data, (size_t)len) != 0)) {
                unlink(r->file);
                created = 0;
                detail = fmt("the probe file %s read back differs from what was written", r->file);
                goto done;
            }
        }
    }
    if (!failed_call) {
        step = "delete";
        if (unlink(r->file) < 0) {
            e = errno;
            failed_call = "unlink";
            failed_path = r->file;
        } else {
            created = 0;
        }
    }
    if (failed_call) {
        char *why = syscall_error(e, failed_call, failed_path);
        detail = fmt("cannot %s the probe file %s: %s", step, r->file, why);
        free(why);
        goto done;
    }

    char free_text[96] = "";
    if (r->has_min) {
        step = "measure the free space of";
        struct statvfs s;
        if (statvfs(r->dir, &s) < 0) {
            char *why = syscall_error(errno, "statfs", r->dir);
            detail = fmt("cannot %s the probe file %s: %s", step, r->file, why);
            free(why);
            goto done;
        }
        double bytes = (double)s.f_bavail * (double)(s.f_frsize ? s.f_frsize : s.f_bsize);
        char have[40], need[40];
        size(bytes, have, sizeof have);
        if (bytes < r->min_free) {
            size(r->min_free, need, sizeof need);
            detail = fmt("%s free, below the threshold of %s", have, need);
            goto done;
        }
        snprintf(free_text, sizeof free_text, ", %s free", have);
    }
    ok = 1;
    detail = fmt("write, fsync, read back, delete in %lld ms%s", ms_since(&t0), free_text);

done:
    if (created) unlink(r->file);
    answer(r->id, ok, detail);
    free(detail);
    free(r->line);
    free(r);
    return NULL;
}

/* ID NUL MINFREE NUL DIR NUL FILE: the line's fields in place; 0 when malformed. */
static int parse(struct request *r, char *line, size_t n) {
    const char *field[4];
    size_t k = 0, start = 0;
    for (size_t i = 0; i <= n && k < 4; i++) {
        if (i == n || line[i] == '\0') {
            line[i] = '\0';
            field[k++] = line + start;
            start = i + 1;
            if (k == 3) {
                field[k++] = line + start; /* FILE: the rest of the line */
                break;
            }
        }
    }
    if (k != 4 || start > n || !*field[0] || !*field[2] || !*field[3]) return 0;
    for (const char *p = field[0]; *p; p++)
        if (*p < '0' || *p > '9') return 0;
    r->id = field[0];
    r->dir = field[2];
    r->file = field[3];
    r->has_min = *field[1] != '\0';
    if (r->has_min) {
        char *end;
        r->min_free = strtod(field[1], &end);
        if (*end) return 0;
    }
    return 1;
}

static void start(char *text, size_t n, pthread_attr_t *attr) {
    struct request *r = calloc(1, sizeof *r);
    char *line = malloc(n + 1);
    if (!r || !line) die_quietly();
    memcpy(line, text, n);
    line[n] = '\0';
    r->line = line;
    if (!parse(r, line, n)) {
        free(line);
        free(r);
        return;
    }
    pthread_t t;
    int e = pthread_create(&t, attr, probe, r);
    if (e != 0) {
        char *why = fmt("cannot start a probe thread: %s", strerror(e));
        answer(r->id, 0, why);
        free(why);
        free(line);
        free(r);
    }
}

int main(void) {
    /* ARMRSP gone: the next answer ends us (and stdin's end too, below). */
    signal(SIGPIPE, SIG_DFL);
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    pthread_attr_setstacksize(&attr, 128 * 1024);

    size_t cap = 8192, used = 0;
    char *buf = malloc(cap);
    if (!buf) return 1;
    for (;;) {
        if (used == cap) {
            if (cap >= (1u << 20)) used = 0; /* a line this long is no request of ours: drop it */
            else if (!(buf = realloc(buf, cap *= 2))) return 1;
        }
        ssize_t n = read(0, buf + used, cap - used);
        if (n < 0 && errno == EINTR) continue;
        /* Stdin closed: ARMRSP stopped or went away. _exit does not wait for hung threads. */
        if (n <= 0) _exit(0);
        used += (size_t)n;
        size_t from = 0;
        for (size_t i = 0; i < used; i++) {
            if (buf[i] != '\n') continue;
            if (i > from) start(buf + from, i - from, &attr);
            from = i + 1;
        }
        memmove(buf, buf + from, used - from);
        used -= from;
    }
}
