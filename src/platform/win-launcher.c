/*
 * The ARMS command launcher for Windows. Built by scripts/build-launcher.sh into bin/win/launcher.exe
 * (committed), then copied by writeCommandsDir (src/platform/shims.ts) once per command into the
 * commands folder as armlog.exe, arms.exe and armsd.exe, each with a trailer naming node and the script.
 *
 * Why an .exe and not a .cmd: cmd.exe runs a batch file named without CALL by handing the rest of the
 * script over to it, so a legacy START.BAT's
 *     ARMLOG "a"
 *     ARMLOG "b"
 * would stop after "a" if ARMLOG were ARMLOG.cmd. An .exe is a program, as the original commands
 * were: cmd waits for it, sets ERRORLEVEL to its exit code and goes on with the next line. (CALL would
 * also expand %...% a second time and double carets inside quotes; an .exe needs no CALL.)
 *
 * The trailer, appended by the installer (no compiler is needed at install time):
 *     <this .exe> <node> NUL <script> NUL <uint32 LE: length of both strings with their NULs> "ARMSLNK1"
 * Both strings are UTF-8. <script>, and <node> when it names a folder, are absolute or relative to
 * this .exe's folder. A bare <node> such as "node" is looked up on PATH only (".exe" added), never in
 * the current folder (cmd would look there first: a node.exe planted beside a script is not run).
 *
 * It runs  "<node>" "<script>" <the rest of its own command line, exactly as received>  with the
 * same standard handles, environment and current folder, waits, and exits with node's exit code.
 * Node parses the line with the usual Windows rules, so quotes, %, ^, &, |, <, > arrive unchanged.
 * Ctrl+C/Ctrl+Break reach node (same console); the launcher ignores them and waits for node.
 * Node runs in a job object that kills it when the launcher is killed (a script's tree is stopped
 * through parent links, and a killed launcher must not leave node running); node's own children
 * break away from the job, so "arms service start" leaves armsd running.
 */
#define WIN32_LEAN_AND_MEAN
#ifndef UNICODE /* -municode defines them */
#define UNICODE
#define _UNICODE
#endif
#include <windows.h>
#include <stdint.h>
#include <string.h>
#include <wchar.h>

#define MAGIC "ARMSLNK1"
#define MAX_PAYLOAD 65536
#define BIG 32768 /* the longest Windows path or command line, in characters */

static wchar_t self[BIG];
static wchar_t name[260] = L"launcher";

/* One line "<name>: <what> (<system message>)" on stderr in UTF-8, then exit code 1. */
static void fail(const wchar_t *fmt, const wchar_t *a, DWORD err) {
    wchar_t line[2048], msg[1024] = L"";
    if (err) {
        FormatMessageW(FORMAT_MESSAGE_FROM_SYSTEM | FORMAT_MESSAGE_IGNORE_INSERTS, NULL, err, 0, msg, 1024, NULL);
        size_t n = wcslen(msg);
        while (n > 0 && (msg[n - 1] == L'\r' || msg[n - 1] == L'\n' || msg[n - 1] == L' ')) msg[--n] = 0;
    }
    int len = _snwprintf(line, 2000, L"%ls: ", name);
    len += _snwprintf(line + len, 2000 - len, fmt, a);
    if (err) len += _snwprintf(line + len, 2000 - len, L" (%ls)", msg);
    line[2000] = 0;
    if (len < 0 || len > 2000) len = (int)wcslen(line);
    line[len++] = L'\n';
    char out[8192];
    int bytes = WideCharToMultiByte(CP_UTF8, 0, line, len, out, sizeof out, NULL, NULL);
    DWORD written;
    HANDLE h = GetStdHandle(STD_ERROR_HANDLE);
    if (h && h != INVALID_HANDLE_VALUE && bytes > 0) WriteFile(h, out, (DWORD)bytes, &written, NULL);
    ExitProcess(1);
}

static void *alloc(size_t bytes) {
    void *p = HeapAlloc(GetProcessHeap(), HEAP_ZERO_MEMORY, bytes);
    if (!p) fail(L"out of memory%ls", L"", 0);
    return p;
}

static wchar_t *utf8_to_wide(const char *s) {
    int n = MultiByteToWideChar(CP_UTF8, MB_ERR_INVALID_CHARS, s, -1, NULL, 0);
    if (n <= 0) return NULL;
    wchar_t *w = alloc((size_t)n * sizeof(wchar_t));
    MultiByteToWideChar(CP_UTF8, 0, s, -1, w, n);
    return w;
}

/* Reads <node> and <script> from the trailer at the end of this .exe. */
static void read_trailer(wchar_t **node, wchar_t **script) {
    static const wchar_t *damaged = L"%ls has no valid command trailer (write it with the ARMS build: writeCommandsDir)";
    HANDLE f = CreateFileW(self, GENERIC_READ, FILE_SHARE_READ | FILE_SHARE_DELETE, NULL, OPEN_EXISTING, 0, NULL);
    if (f == INVALID_HANDLE_VALUE) fail(L"cannot read %ls", self, GetLastError());
    LARGE_INTEGER size, pos;
    unsigned char tail[12];
    DWORD got = 0;
    if (!GetFileSizeEx(f, &size) || size.QuadPart < 12) fail(damaged, self, 0);
    pos.QuadPart = size.QuadPart - 12;
    if (!SetFilePointerEx(f, pos, NULL, FILE_BEGIN) || !ReadFile(f, tail, 12, &got, NULL) || got != 12) fail(L"cannot read %ls", self, GetLastError());
    if (memcmp(tail + 4, MAGIC, 8) != 0) fail(damaged, self, 0);
    uint32_t len = (uint32_t)tail[0] | ((uint32_t)tail[1] << 8) | ((uint32_t)tail[2] << 16) | ((uint32_t)tail[3] << 24);
    if (len < 4 || len > MAX_PAYLOAD || (LONGLONG)len > size.QuadPart - 12) fail(damaged, self, 0);
    char *payload = alloc(len + 1);
    pos.QuadPart = size.QuadPart - 12 - len;
    if (!SetFilePointerEx(f, pos, NULL, FILE_BEGIN) || !ReadFile(f, payload, len, &got, NULL) || got != len) fail(L"cannot read %ls", self, GetLastError());
    CloseHandle(f);
    size_t first = strlen(payload); /* "<node>\0<script>\0" */
    if (payload[len - 1] != 0 || first == 0 || first + 2 >= len) fail(damaged, self, 0);
    *node = utf8_to_wide(payload);
    *script = utf8_to_wide(payload + first + 1);
    if (!*node || !*script) fail(damaged, self, 0);
}

static int is_absolute(const wchar_t *p) {
    return (p[0] && p[1] == L':' && (p[2] == L'\\' || p[2] == L'/')) || (p[0] == L'\\' && p[1] == L'\\');
}

/* A path relative to this .exe's folder (or an absolute one), made absolute and normalised. */
static wchar_t *beside_self(const wchar_t *rel) {
    wchar_t *joined = alloc(BIG * sizeof(wchar_t)), *full = alloc(BIG * sizeof(wchar_t));
    if (!is_absolute(rel)) {
        wcscpy(joined, self);
        wchar_t *slash = wcsrchr(joined, L'\\');
        if (slash) slash[1] = 0; else joined[0] = 0;
    }
    if (wcslen(joined) + wcslen(rel) >= BIG) fail(L"path too long: %ls", rel, 0);
    wcscat(joined, rel);
    DWORD n = GetFullPathNameW(joined, BIG, full, NULL);
    if (n == 0 || n >= BIG) fail(L"bad path %ls", joined, GetLastError());
    return full;
}

/* A bare program name, looked up on PATH only (SearchPathW with an explicit list searches only it). */
static wchar_t *on_path(const wchar_t *prog) {
    wchar_t *found = alloc(BIG * sizeof(wchar_t));
    DWORD n = GetEnvironmentVariableW(L"PATH", NULL, 0);
    if (n > 0) {
        wchar_t *list = alloc((size_t)n * sizeof(wchar_t));
        GetEnvironmentVariableW(L"PATH", list, n);
        if (SearchPathW(list, prog, L".exe", BIG, found, NULL) > 0) return found;
    }
    fail(L"cannot find %ls on PATH (is Node.js installed?)", prog, 0);
    return NULL;
}

/* Our command line after argv[0], delimited the way the C runtime delimits argv[0]. */
static const wchar_t *after_argv0(const wchar_t *p) {
    if (*p == L'"') {
        for (p++; *p && *p != L'"'; p++) {}
        if (*p) p++;
    } else {
        while (*p && *p != L' ' && *p != L'\t') p++;
    }
    while (*p == L' ' || *p == L'\t') p++;
    return p;
}

static BOOL WINAPI ignore_ctrl(DWORD type) {
    (void)type;
    return TRUE; /* node, in the same console, gets the event too and decides; we wait for it */
}

static HANDLE inheritable(DWORD which) {
    HANDLE h = GetStdHandle(which);
    if (h && h != INVALID_HANDLE_VALUE) SetHandleInformation(h, HANDLE_FLAG_INHERIT, HANDLE_FLAG_INHERIT);
    return h;
}

int wmain(void) {
    DWORD n = GetModuleFileNameW(NULL, self, BIG);
    if (n == 0 || n >= BIG) fail(L"cannot find its own path%ls", L"", GetLastError());
    const wchar_t *base = wcsrchr(self, L'\\');
    wcsncpy(name, base ? base + 1 : self, 259);
    wchar_t *dot = wcsrchr(name, L'.');
    if (dot) *dot = 0; /* messages start with the command's name: "armlog: ..." */

    wchar_t *node_spec, *script_spec;
    read_trailer(&node_spec, &script_spec);
    int bare = !wcschr(node_spec, L'\\') && !wcschr(node_spec, L'/') && !wcschr(node_spec, L':');
    wchar_t *node = bare ? on_path(node_spec) : beside_self(node_spec);
    wchar_t *script = beside_self(script_spec);
    if (GetFileAttributesW(script) == INVALID_FILE_ATTRIBUTES) fail(L"cannot find its script %ls", script, GetLastError());

    const wchar_t *rest = after_argv0(GetCommandLineW());
    size_t len = wcslen(node) + wcslen(script) + wcslen(rest) + 8;
    if (len > BIG) fail(L"command line too long%ls", L"", 0);
    wchar_t *cl = alloc(len * sizeof(wchar_t));
    _snwprintf(cl, len - 1, *rest ? L"\"%ls\" \"%ls\" %ls" : L"\"%ls\" \"%ls\"", node, script, rest);

    STARTUPINFOW si;
    GetStartupInfoW(&si);
    si.cb = sizeof si;
    si.dwFlags |= STARTF_USESTDHANDLES;
    si.lpReserved2 = NULL; /* our parent's C runtime fd table is not node's business */
    si.cbReserved2 = 0;
    si.hStdInput = inheritable(STD_INPUT_HANDLE);
    si.hStdOutput = inheritable(STD_OUTPUT_HANDLE);
    si.hStdError = inheritable(STD_ERROR_HANDLE);

    HANDLE job = CreateJobObjectW(NULL, NULL);
    if (job) {
        JOBOBJECT_EXTENDED_LIMIT_INFORMATION lim;
        ZeroMemory(&lim, sizeof lim);
        lim.BasicLimitInformation.LimitFlags = JOB_OBJECT_LIMIT_KILL_ON_JOB_CLOSE | JOB_OBJECT_LIMIT_SILENT_BREAKAWAY_OK;
        if (!SetInformationJobObject(job, JobObjectExtendedLimitInformation, &lim, sizeof lim)) {
            CloseHandle(job);
            job = NULL;
        }
    }
    SetConsoleCtrlHandler(ignore_ctrl, TRUE);

    PROCESS_INFORMATION pi;
    if (!CreateProcessW(node, cl, NULL, NULL, TRUE, CREATE_SUSPENDED, NULL, NULL, &si, &pi)) fail(L"cannot start %ls", node, GetLastError());
    /* Best effort: if the job cannot be had (an old Windows refusing nested jobs), node runs without. */
    if (job && !AssignProcessToJobObject(job, pi.hProcess)) CloseHandle(job);
    ResumeThread(pi.hThread);
    CloseHandle(pi.hThread);
    WaitForSingleObject(pi.hProcess, INFINITE);
    DWORD code = 1;
    GetExitCodeProcess(pi.hProcess, &code);
    return (int)code;
}
