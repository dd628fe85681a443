/*
 * ARMRSP's probe helper, native (started by probe-helper.ts, never by hand; built into
 * dist/monitors/arms-probe by scripts/build-native.js when a C compiler is present). One small
 * process does what would otherwise cost a second node process (~50 MB RSS) and a `ping` per address:
 *
 * - disk probes: write, fsync, read back, delete a probe file (and optionally the free space). A
 *   call on a hung disk blocks its thread for good, so the I/O lives in a process ARMRSP can abandon.
 *   The details are word for word those of the node helper, disk-prober.ts (errors as node words
 *   them: "EROFS: read-only file system, open '/x'").
 * - ICMP echoes to a numeric address, through a raw socket (root, or CAP_NET_RAW), else an
 *   unprivileged ping socket (net.ipv4.ping_group_range); where neither may be opened the answer
 *   says so with status 2 and ARMRSP runs the OS ping instead.
 *
 * One request per line on stdin, fields separated by NUL (a path holds any byte but NUL; ARMRSP
 * refuses paths with a line break):
 *   disk NUL ID NUL MINFREE NUL DIR NUL FILE LF    MINFREE: bytes, or empty for no free-space check
 *   echo NUL ID NUL ADDRESS NUL TIMEOUT_MS LF      ADDRESS: numeric IPv4 or IPv6
 * one answer per line on stdout, in any order:
 *   ID SP STATUS SP DETAIL LF
 * STATUS 1: passed (echo: DETAIL is the round trip in ms); 0: failed, DETAIL says why (echo: empty
 * when no reply came within the timeout); 2 (echo): ICMP cannot be sent from here, DETAIL says why.
 * Each request runs in a thread of its own, so a hung disk never holds up the others. It exits as
 * soon as stdin closes, hung threads or not.
 */
#define _POSIX_C_SOURCE 200809L
#define _DEFAULT_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

#ifndef O_CLOEXEC
#define O_CLOEXEC 0
#endif
#ifndef SOCK_CLOEXEC
#define SOCK_CLOEXEC 0 /* macOS */
#endif

static pthread_mutex_t out_lock = PTHREAD_MUTEX_INITIALIZER;

struct request {
    char *line; /* owns the fields below */
    int echo;   /* an ICMP echo, else a disk probe */
    const char *id;
    const char *dir;     /* disk */
    const char *file;    /* disk */
    int has_min;         /* disk */
    double min_free;     /* disk */
    const char *address; /* echo */
    long timeout_ms;     /* echo */
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

static void answer(const char *id, int status, const char *detail) {
    char *line = fmt("%s %d %s\n", id, status, detail);
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

/* ICMP (RFC 792, RFC 4443) as this helper needs it: an echo request out, its reply or an error
 * about it back. */
#define ICMP4_ECHO_REPLY 0
#define ICMP4_UNREACH 3
#define ICMP4_ECHO 8
#define ICMP4_TIME_EXCEEDED 11
#define ICMP6_UNREACH 1
#define ICMP6_TIME_EXCEEDED 3
#define ICMP6_ECHO 128
#define ICMP6_ECHO_REPLY 129
#define PAYLOAD 56

#ifdef __linux__
/* <linux/icmp.h> and <netinet/icmp6.h> by hand: only these few definitions are needed. */
#define SOL_RAW_ 255
#define ICMP_FILTER_ 1
#define ICMP6_FILTER_ 1
#endif

/* Tells our packets from anyone else's on a raw socket, which sees every ICMP packet. */
static unsigned char cookie[8];

static uint16_t checksum(const unsigned char *p, size_t n) {
    uint32_t sum = 0;
    for (size_t i = 0; i + 1 < n; i += 2) sum += (uint32_t)(p[i] << 8 | p[i + 1]);
    if (n & 1) sum += (uint32_t)(p[n - 1] << 8);
    while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
    return (uint16_t)~sum;
}

static const char *unreach4(int code) {
    switch (code) {
    case 0: return "Destination Net Unreachable";
    case 1: return "Destination Host Unreachable";
    case 2: return "Destination Protocol Unreachable";
    case 3: return "Destination Port Unreachable";
    case 4: return "Frag needed and DF set";
    case 9: case 10: case 13: return "Packet filtered";
    default: return "Destination Unreachable";
    }
}

static const char *unreach6(int code) {
    switch (code) {
    case 0: return "No route";
    case 1: return "Administratively prohibited";
    case 3: return "Address unreachable";
    case 4: return "Port unreachable";
    default: return "Destination unreachable";
    }
}

/* What came back on the socket about our echo (ident, seq): 1 its reply, -1 an error about it (why
 * set), 0 something else. `p` starts at the ICMP header. */
static int judge(int v6, int raw, const unsigned char *p, size_t n, uint16_t ident, uint16_t seq, const char **why) {
    if (n < 8) return 0;
    int type = p[0], code = p[1];
    uint16_t id = (uint16_t)(p[4] << 8 | p[5]), sq = (uint16_t)(p[6] << 8 | p[7]);
    if (type == (v6 ? ICMP6_ECHO_REPLY : ICMP4_ECHO_REPLY)) {
        /* a ping socket's kernel sets and checks the ident itself */
        if ((raw && id != ident) || sq != seq) return 0;
        if (n < 8 + sizeof cookie || memcmp(p + 8, cookie, sizeof cookie) != 0) return 0;
        return 1;
    }
    int unreach = type == (v6 ? ICMP6_UNREACH : ICMP4_UNREACH);
    if (!unreach && type != (v6 ? ICMP6_TIME_EXCEEDED : ICMP4_TIME_EXCEEDED)) return 0;
    /* the offending packet follows the 8-byte header: its IP header, then our echo's header */
    const unsigned char *inner = p + 8;
    size_t left = n - 8;
    size_t hdr = v6 ? 40 : (left > 0 ? (size_t)(inner[0] & 0x0f) * 4 : 0);
    if (left < hdr + 8) return 0;
    const unsigned char *echo = inner + hdr;
    if (echo[0] != (v6 ? ICMP6_ECHO : ICMP4_ECHO)) return 0;
    if ((raw && (uint16_t)(echo[4] << 8 | echo[5]) != ident) || (uint16_t)(echo[6] << 8 | echo[7]) != seq) return 0;
    *why = unreach ? (v6 ? unreach6(code) : unreach4(code)) : (v6 ? "Time exceeded: Hop limit" : "Time to live exceeded");
    return -1;
}

static void *echo(void *arg) {
    struct request *r = arg;
    struct sockaddr_storage to;
    socklen_t to_len;
    memset(&to, 0, sizeof to);
    int v6 = strchr(r->address, ':') != NULL;
    if (v6) {
        struct sockaddr_in6 *a = (struct sockaddr_in6 *)&to;
        a->sin6_family = AF_INET6;
        if (inet_pton(AF_INET6, r->address, &a->sin6_addr) != 1) goto bad_address;
        to_len = sizeof *a;
    } else {
        struct sockaddr_in *a = (struct sockaddr_in *)&to;
        a->sin_family = AF_INET;
        if (inet_pton(AF_INET, r->address, &a->sin_addr) != 1) goto bad_address;
        to_len = sizeof *a;
    }
    int proto = v6 ? IPPROTO_ICMPV6 : IPPROTO_ICMP;
    int raw = 1;
    int fd = socket(to.ss_family, SOCK_RAW | SOCK_CLOEXEC, proto);
    if (fd < 0 && (errno == EPERM || errno == EACCES)) {
        raw = 0;
        fd = socket(to.ss_family, SOCK_DGRAM | SOCK_CLOEXEC, proto);
    }
    if (fd < 0) {
        char *why = fmt("cannot open an ICMP socket (%s): not root, and ping sockets are not allowed (net.ipv4.ping_group_range)", strerror(errno));
        answer(r->id, 2, why);
        free(why);
        goto out;
    }
#ifdef __linux__
    if (raw && !v6) {
        uint32_t block = ~((1u << ICMP4_ECHO_REPLY) | (1u << ICMP4_UNREACH) | (1u << ICMP4_TIME_EXCEEDED));
        setsockopt(fd, SOL_RAW_, ICMP_FILTER_, &block, sizeof block);
    }
    if (raw && v6) {
        uint32_t filter[8]; /* a bit set: that type is blocked */
        memset(filter, 0xff, sizeof filter);
        int pass[] = {ICMP6_ECHO_REPLY, ICMP6_UNREACH, ICMP6_TIME_EXCEEDED};
        for (size_t i = 0; i < 3; i++) filter[pass[i] >> 5] &= ~(1u << (pass[i] & 31));
        setsockopt(fd, IPPROTO_ICMPV6, ICMP6_FILTER_, filter, sizeof filter);
    }
#endif
    uint16_t ident = (uint16_t)getpid(), seq = (uint16_t)strtoul(r->id, NULL, 10);
    unsigned char pkt[8 + PAYLOAD];
    memset(pkt, 0, sizeof pkt);
    pkt[0] = v6 ? ICMP6_ECHO : ICMP4_ECHO;
    pkt[4] = (unsigned char)(ident >> 8);
    pkt[5] = (unsigned char)ident;
    pkt[6] = (unsigned char)(seq >> 8);
    pkt[7] = (unsigned char)seq;
    memcpy(pkt + 8, cookie, sizeof cookie);
    if (!v6) { /* ICMPv6's checksum covers a pseudo-header: the kernel computes it */
        uint16_t c = checksum(pkt, sizeof pkt);
        pkt[2] = (unsigned char)(c >> 8);
        pkt[3] = (unsigned char)c;
    }
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    if (sendto(fd, pkt, sizeof pkt, 0, (struct sockaddr *)&to, to_len) < 0) {
        answer(r->id, 0, strerror(errno)); /* "Network is unreachable", as ping says it */
        goto done;
    }
    unsigned char buf[1500];
    for (;;) {
        long left = r->timeout_ms - ms_since(&t0);
        if (left <= 0) {
            answer(r->id, 0, "");
            goto done;
        }
        struct pollfd pfd = {fd, POLLIN, 0};
        int k = poll(&pfd, 1, (int)left);
        if (k < 0 && errno == EINTR) continue;
        if (k <= 0) continue;
        struct sockaddr_storage from;
        socklen_t from_len = sizeof from;
        ssize_t n = recvfrom(fd, buf, sizeof buf, 0, (struct sockaddr *)&from, &from_len);
        if (n < 0) continue;
        const unsigned char *icmp = buf;
        size_t len = (size_t)n;
        if (raw && !v6) { /* a raw IPv4 socket gives the IP header too */
            size_t ihl = (size_t)(buf[0] & 0x0f) * 4;
            if (len < ihl) continue;
            icmp += ihl;
            len -= ihl;
        }
        const char *why = NULL;
        int verdict = judge(v6, raw, icmp, len, ident, seq, &why);
        if (verdict == 0) continue;
        if (verdict < 0) {
            answer(r->id, 0, why);
            goto done;
        }
        struct timespec t;
        clock_gettime(CLOCK_MONOTONIC, &t);
        double ms = (double)(t.tv_sec - t0.tv_sec) * 1e3 + (double)(t.tv_nsec - t0.tv_nsec) / 1e6;
        char rtt[32];
        snprintf(rtt, sizeof rtt, "%.3f", ms);
        answer(r->id, 1, rtt);
        goto done;
    }
done:
    close(fd);
    goto out;
bad_address:
    answer(r->id, 0, "not a numeric address");
out:
    free(r->line);
    free(r);
    return NULL;
}

static int digits(const char *p) {
    if (!*p) return 0;
    for (; *p; p++)
        if (*p < '0' || *p > '9') return 0;
    return 1;
}

/*
 * disk NUL ID NUL MINFREE NUL DIR NUL FILE, or echo NUL ID NUL ADDRESS NUL TIMEOUT_MS: the line's
 * fields in place; 0 when malformed. A disk request's FILE is the rest of the line.
 */
static int parse(struct request *r, char *line, size_t n) {
    const char *field[5];
    size_t k = 0, start = 0;
    int want = 5;
    for (size_t i = 0; i <= n && k < (size_t)want; i++) {
        if (i == n || line[i] == '\0') {
            line[i] = '\0';
            field[k++] = line + start;
            start = i + 1;
            if (k == 1) want = strcmp(field[0], "echo") == 0 ? 4 : 5;
            if (want == 5 && k == 4) {
                field[k++] = line + start; /* FILE: the rest of the line */
                break;
            }
        }
    }
    if (k != (size_t)want || start > n + 1 || !digits(field[1])) return 0;
    r->id = field[1];
    if (strcmp(field[0], "echo") == 0) {
        if (!*field[2] || !digits(field[3])) return 0;
        r->echo = 1;
        r->address = field[2];
        r->timeout_ms = strtol(field[3], NULL, 10);
        return 1;
    }
    if (strcmp(field[0], "disk") != 0 || start > n || !*field[3] || !*field[4]) return 0;
    r->dir = field[3];
    r->file = field[4];
    r->has_min = *field[2] != '\0';
    if (r->has_min) {
        char *end;
        r->min_free = strtod(field[2], &end);
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
    int e = pthread_create(&t, attr, r->echo ? echo : probe, r);
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
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    uint64_t seed = (uint64_t)now.tv_nsec ^ ((uint64_t)now.tv_sec << 20) ^ ((uint64_t)getpid() << 40);
    for (size_t i = 0; i < sizeof cookie; i++) {
        seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
        cookie[i] = (unsigned char)(seed >> 56);
    }
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
