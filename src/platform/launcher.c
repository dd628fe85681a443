/*
 * The ARMS command launcher for Linux. Built by scripts/build-native.js into dist/platform/arms-launch,
 * then copied by writeCommandsDir (src/platform/shims.ts) once per command into the commands folder
 * (ARMLOG, armlog, arms, ...), each copy with a trailer naming node, the command's script, and when
 * to spare node the extra CA certificates. The Linux counterpart of win-launcher.c.
 *
 * Why not a symlink to a "#!/usr/bin/env node" script (what other POSIX systems get): node 20 reads
 * every certificate named by NODE_EXTRA_CA_CERTS at start-up, before any JavaScript runs (~60 ms
 * with a system bundle). Commands that only talk to armsd over its local socket never use them, and
 * scripts run them on every line. This launcher starts node without the variable for those
 * commands, and the command's bundle puts it back first thing (scripts/bundle-commands.js), so
 * whatever the command starts or hands its environment to sees the caller's environment unchanged.
 *
 * The trailer, appended by writeCommandsDir (no compiler needed to rewrite the folder):
 *     <this program> <node> NUL <script> NUL <spare> NUL <uint32 LE: length of the three with their NULs>
 *     <uint32 LE: FNV-1a hash of them> "ARMSLNX1"
 * (the hash: a trailer damaged anywhere is refused, not read as other names)
 * <node>: a bare name ("node") is looked up on PATH when the command runs, as env(1) does; a path is
 * absolute or relative to this program's folder. <script>: absolute or relative to this program's
 * folder. <spare>, decided in shims.ts (this program only applies it):
 *     "never"         leave NODE_EXTRA_CA_CERTS to node
 *     "always"        spare it
 *     "first=WORD"    spare it when the first argument is exactly WORD (arms: "first=status")
 * Sparing, when NODE_EXTRA_CA_CERTS is set (even empty): ARMS_SPARED_NODE_EXTRA_CA_CERTS gets its
 * exact value and NODE_EXTRA_CA_CERTS is unset. An ARMS_SPARED_NODE_EXTRA_CA_CERTS the caller
 * passed is always dropped (the bundle would turn it into NODE_EXTRA_CA_CERTS).
 *
 * It execs  <node> <script> <its own arguments>  (argv[0] = <node> as given, as env(1) does), in
 * place: same PID, standard handles, folder and signals, so a script waits for node itself.
 * Errors, one line on stderr, exit codes as env(1) has them: node not found 127, node not runnable
 * 126; a missing or damaged trailer, a missing script, or this program run as arms-launch 126.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAGIC "ARMSLNX1"
#define TAIL 16 /* uint32 length, uint32 hash, magic */
#define MAX_PAYLOAD 65536
#define TEMPLATE_NAME "arms-launch"
#define SPARED "ARMS_SPARED_NODE_EXTRA_CA_CERTS"
#define CERTS "NODE_EXTRA_CA_CERTS"

static const char *name = TEMPLATE_NAME; /* the command's name, first word of every message */

/* One line "<name>: <message>" on stderr, then exit with `code`. */
static void fail(int code, const char *fmt, ...) {
    char line[8192];
    int n = snprintf(line, sizeof line, "%s: ", name);
    if (n < 0 || (size_t)n >= sizeof line) n = 0;
    va_list ap;
    va_start(ap, fmt);
    int m = vsnprintf(line + n, sizeof line - (size_t)n - 1, fmt, ap);
    va_end(ap);
    if (m < 0) m = 0;
    n += m;
    if ((size_t)n > sizeof line - 2) n = (int)sizeof line - 2;
    line[n++] = '\n';
    ssize_t w = write(STDERR_FILENO, line, (size_t)n);
    (void)w;
    _exit(code);
}

static uint32_t le32(const unsigned char *b) {
    return (uint32_t)b[0] | ((uint32_t)b[1] << 8) | ((uint32_t)b[2] << 16) | ((uint32_t)b[3] << 24);
}

/* FNV-1a, 32 bits (shims.ts computes the same) */
static uint32_t fnv1a(const char *p, size_t len) {
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < len; i++) h = (h ^ (unsigned char)p[i]) * 16777619u;
    return h;
}

/* Reads exactly `len` bytes at `off`; 0 on success. */
static int read_at(int fd, char *buf, size_t len, off_t off) {
    while (len > 0) {
        ssize_t r = pread(fd, buf, len, off);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) return -1;
        buf += r;
        len -= (size_t)r;
        off += r;
    }
    return 0;
}

/* The payload "<node>\0<script>\0<spare>\0" at the end of this program (through /proc/self/exe: the
 * file that is running, even if the folder was rewritten since). */
static void read_trailer(const char *self, const char **node, const char **script, const char **spare) {
    static const char *damaged = "%s has no valid command trailer (the commands folder is damaged: armsd rewrites it when it starts; or run scripts/make-path.js)";
    int fd = open("/proc/self/exe", O_RDONLY | O_CLOEXEC);
    if (fd < 0) fail(126, "cannot read %s (/proc/self/exe: %s)", self, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0) fail(126, "cannot read %s (%s)", self, strerror(errno));
    unsigned char tail[TAIL];
    if (st.st_size < TAIL) fail(126, damaged, self);
    if (read_at(fd, (char *)tail, TAIL, st.st_size - TAIL) != 0) fail(126, "cannot read %s (%s)", self, errno ? strerror(errno) : "short read");
    if (memcmp(tail + 8, MAGIC, 8) != 0) fail(126, damaged, self);
    uint32_t len = le32(tail), hash = le32(tail + 4);
    if (len < 6 || len > MAX_PAYLOAD || (off_t)len > st.st_size - TAIL) fail(126, damaged, self);
    char *payload = malloc(len);
    if (!payload) fail(126, "out of memory");
    if (read_at(fd, payload, len, st.st_size - TAIL - (off_t)len) != 0) fail(126, "cannot read %s (%s)", self, errno ? strerror(errno) : "short read");
    close(fd);
    if (fnv1a(payload, len) != hash) fail(126, damaged, self);
    /* exactly three non-empty strings, each ended by its NUL */
    const char *field[3];
    size_t at = 0;
    for (int i = 0; i < 3; i++) {
        const char *end = at < len ? memchr(payload + at, 0, len - at) : NULL;
        if (!end || end == payload + at) fail(126, damaged, self);
        field[i] = payload + at;
        at = (size_t)(end - payload) + 1;
    }
    if (at != len) fail(126, damaged, self);
    *node = field[0];
    *script = field[1];
    *spare = field[2];
}

/* `p` as it is (absolute) or relative to `dir`, in memory of its own. */
static char *beside(const char *dir, const char *p) {
    char *out;
    if (p[0] == '/') out = strdup(p);
    else if (asprintf(&out, "%s/%s", dir, p) < 0) out = NULL;
    if (!out) fail(126, "out of memory");
    return out;
}

/* Whether the trailer's spare rule holds for these arguments. */
static int spares(const char *self, const char *rule, int argc, char **argv) {
    if (strcmp(rule, "never") == 0) return 0;
    if (strcmp(rule, "always") == 0) return 1;
    if (strncmp(rule, "first=", 6) == 0 && rule[6]) return argc > 1 && strcmp(argv[1], rule + 6) == 0;
    fail(126, "%s has an unknown spare rule \"%s\" in its trailer (the commands folder is from another ARMS version: armsd rewrites it when it starts)", self, rule);
    return 0;
}

int main(int argc, char **argv) {
    char self[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    if (n <= 0 || n >= (ssize_t)sizeof self - 1) {
        if (argc > 0 && argv[0][0]) name = strrchr(argv[0], '/') ? strrchr(argv[0], '/') + 1 : argv[0];
        fail(126, "cannot find its own program (/proc/self/exe: %s)", n < 0 ? strerror(errno) : n == 0 ? "empty" : "path too long");
    }
    self[n] = 0;
    /* A file replaced while running reads "<path> (deleted)": its folder is still the one to use. */
    char *slash = strrchr(self, '/');
    name = slash ? slash + 1 : self;
    const char *deleted = " (deleted)";
    size_t nl = strlen(name), dl = strlen(deleted);
    static char bare[NAME_MAX + 1];
    if (nl > dl && strcmp(name + nl - dl, deleted) == 0 && nl - dl <= NAME_MAX) {
        memcpy(bare, name, nl - dl);
        bare[nl - dl] = 0;
        name = bare;
    }
    if (strcmp(name, TEMPLATE_NAME) == 0)
        fail(126, "this is the template of the ARMS command launcher, it runs no command by itself: run ARMLOG, arms and the others from the commands folder (dist/path)");
    char dir[PATH_MAX];
    snprintf(dir, sizeof dir, "%.*s", slash ? (int)(slash - self) : 0, self);
    if (!dir[0]) strcpy(dir, "/");

    const char *node_spec, *script_spec, *rule;
    read_trailer(self, &node_spec, &script_spec, &rule);

    char *joined = beside(dir, script_spec);
    char *script = realpath(joined, NULL);
    if (!script) fail(126, "cannot find its script %s (%s)", joined, strerror(errno));
    /* node sees exactly the environment the caller gave, but for the certificates it is spared */
    int spare = spares(self, rule, argc, argv);
    unsetenv(SPARED);
    const char *certs = getenv(CERTS);
    if (spare && certs) {
        if (setenv(SPARED, certs, 1) != 0) fail(126, "cannot set %s (%s)", SPARED, strerror(errno));
        unsetenv(CERTS);
    }

    char **args = calloc((size_t)(argc > 0 ? argc : 1) + 2, sizeof *args);
    if (!args) fail(126, "out of memory");
    int bare_node = strchr(node_spec, '/') == NULL;
    char *node = bare_node ? (char *)node_spec : beside(dir, node_spec);
    args[0] = (char *)node_spec;
    args[1] = script;
    for (int i = 1; i < argc; i++) args[i + 1] = argv[i];
    /* execvp searches PATH as env(1) does (and /bin:/usr/bin when PATH is unset) */
    if (bare_node) execvp(node, args);
    else execv(node, args);
    int e = errno;
    fail(e == ENOENT ? 127 : 126, "cannot start %s: %s", node_spec, strerror(e));
    return 126;
}
