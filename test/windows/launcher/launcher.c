/*
 * ARMS command launcher for Windows: a tiny console .exe that stands for one command (armlog.exe,
 * arms.exe, ...) in the commands folder, in place of a .cmd file.
 *
 * Why not a .cmd: cmd.exe runs a batch file named without CALL by *transferring* control to it, so a
 * legacy script's
 *     ARMLOG "a"
 *     ARMLOG "b"
 * would stop after the first line if ARMLOG were ARMLOG.cmd. An .exe is a program: cmd waits for it,
 * sets ERRORLEVEL to its exit code and goes on with the next line, as with the original commands.
 * (CALL also re-expands %...% and doubles carets inside quotes; an .exe needs no CALL.)
 *
 * What it runs comes from a trailer appended to this file by the installer (one template .exe,
 * copied once per command name, no compiler needed at install time):
 *
 *     <the .exe> <node> NUL <script> NUL <uint32 LE: length of the two strings with their NULs> "ARMSLNK1"
 *
 * Both strings are UTF-8. <script> may be relative: to this .exe's folder. <node> is a path
 * (absolute, or relative to this .exe's folder) or a bare name such as "node" (".exe" is added when
 * it has no extension), looked up on PATH only (never in the current folder, unlike cmd.exe).
 *
 * It runs   "<node>" "<script>" <the rest of its own command line, exactly as received>
 * with the same standard handles, environment and current folder, waits for it and exits with its
 * exit code. Ctrl+C/Ctrl+Break reach node (same console); the launcher itself ignores them and waits.
 * node runs in a job object that kills it if the launcher is killed; node's own children break away
 * from it silently (so "arms service start" can still leave armsd running).
 */
#define WIN32_LEAN_AND_MEAN
#ifndef UNICODE
#define UNICODE
#endif
#ifndef _UNICODE
#define _UNICODE
#endif
#include <windows.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <wchar.h>

#define MAGIC "ARMSLNK1"
#define MAGIC_LEN 8
#define MAX_PAYLOAD 65536

static wchar_t self[32768];
static wchar_t name[260] = L"launcher";

static void fail(const wchar_t *fmt, const wchar_t *a, DWORD err) {
    wchar_t msg[1024];
    wchar_t line[2048];
    msg[0] = 0;
    if (err) {
        FormatMessageW(FORMAT_MESSAGE_FROM_SYSTEM | FORMAT_MESSAGE_IGNORE_INSERTS, NULL, err, 0, msg, 1024, NULL);
        size_t n = wcslen(msg);
        while (n > 0 && (msg[n - 1] == L'\r' || msg[n - 1] == L'\n' || msg[n - 1] == L' ')) msg[--n] = 0;
    }
    int len = _snwprintf(line, 2047, L"%ls: ", name);
    len += _snwprintf(line + len, 2047 - len, fmt, a);
    if (err) len += _snwprintf(line + len, 2047 - len, L" (%ls)", msg);
    line[2047] = 0;
    if (len < 0 || len > 2045) len = (int)wcslen(line);
    line[len++] = L'\n';
    line[len] = 0;
    /* UTF-8 on stderr, whatever it is (console, file or pipe). */
    char out[8192];
    int bytes = WideCharToMultiByte(CP_UTF8, 0, line, len, out, sizeof out, NULL, NULL);
    DWORD written;
    HANDLE h = GetStdHandle(STD_ERROR_HANDLE);
    if (h && h != INVALID_HANDLE_VALUE && bytes > 0) WriteFile(h, out, (DWORD)bytes, &written, NULL);
    ExitProcess(1);
}

static wchar_t *utf8_to_wide(const char *s) {
    int n = MultiByteToWideChar(CP_UTF8, MB_ERR_INVALID_CHARS, s, -1, NULL, 0);
    if (n <= 0) return NULL;
    wchar_t *w = HeapAlloc(GetProcessHeap(), 0, (size_t)n * sizeof(wchar_t));
    if (!w) return NULL;
    MultiByteToWideChar(CP_UTF8, 0, s, -1, w, n);
    return w;
}

/* Reads <node> and <script> from the trailer at the end of this .exe. */
static void read_trailer(wchar_t **node, wchar_t **script) {
    HANDLE f = CreateFileW(self, GENERIC_READ, FILE_SHARE_READ | FILE_SHARE_DELETE, NULL, OPEN_EXISTING, 0, NULL);
    if (f == INVALID_HANDLE_VALUE) fail(L"cannot read %ls", self, GetLastError());
    LARGE_INTEGER size;
    if (!GetFileSizeEx(f, &size) || size.QuadPart < 12) fail(L"%ls has no command trailer (was it installed by ARMS?)", self, 0);
    unsigned char tail[12];
    DWORD got = 0;
    LARGE_INTEGER pos;
    pos.QuadPart = size.QuadPart - 12;
    if (!SetFilePointerEx(f, pos, NULL, FILE_BEGIN) || !ReadFile(f, tail, 12, &got, NULL) || got != 12)
        fail(L"cannot read %ls", self, GetLastError());
    if (memcmp(tail + 4, MAGIC, MAGIC_LEN) != 0) fail(L"%ls has no command trailer (was it installed by ARMS?)", self, 0);
    uint32_t len = (uint32_t)tail[0] | ((uint32_t)tail[1] << 8) | ((uint32_t)tail[2] << 16) | ((uint32_t)tail[3] << 24);
    if (len < 4 || len > MAX_PAYLOAD || (LONGLONG)len > size.QuadPart - 12) fail(L"%ls has a damaged command trailer", self, 0);
    char *payload = HeapAlloc(GetProcessHeap(), HEAP_ZERO_MEMORY, len + 1);
    if (!payload) fail(L"out of memory", L"", 0);
    pos.QuadPart = size.QuadPart - 12 - len;
    if (!SetFilePointerEx(f, pos, NULL, FILE_BEGIN) || !ReadFile(f, payload, len, &got, NULL) || got != len)
        fail(L"cannot read %ls", self, GetLastError());
    CloseHandle(f);
    /* "<node>\0<script>\0" */
    if (payload[len - 1] != 0) fail(L"%ls has a damaged command trailer", self, 0);
    size_t first = strlen(payload);
    if (first == 0 || first + 1 >= len) fail(L"%ls has a damaged command trailer", self, 0);
    *node = utf8_to_wide(payload);
    *script = utf8_to_wide(payload + first + 1);
    if (!*node || !*script || !**script) fail(L"%ls has a damaged command trailer", self, 0);
}

static int is_absolute(const wchar_t *p) {
    return (p[0] && p[1] == L':' && (p[2] == L'\\' || p[2] == L'/')) || (p[0] == L'\\' && p[1] == L'\\');
}

static int has_separator(const wchar_t *p) {
    return wcschr(p, L'\\') || wcschr(p, L'/') || wcschr(p, L':');
}

/* A path relative to this .exe's folder made absolute (and normalised). */
static wchar_t *beside_self(const wchar_t *rel) {
    static const size_t cap = 32768;
    wchar_t *joined = HeapAlloc(GetProcessHeap(), 0, cap * sizeof(wchar_t));
    wchar_t *full = HeapAlloc(GetProcessHeap(), 0, cap * sizeof(wchar_t));
    if (!joined || !full) fail(L"out of memory", L"", 0);
    if (is_absolute(rel)) {
        wcsncpy(joined, rel, cap - 1);
        joined[cap - 1] = 0;
    } else {
        wcsncpy(joined, self, cap - 1);
        joined[cap - 1] = 0;
        wchar_t *slash = wcsrchr(joined, L'\\');
        if (slash) slash[1] = 0; else joined[0] = 0;
        if (wcslen(joined) + wcslen(rel) + 1 > cap) fail(L"path too long: %ls", rel, 0);
        wcscat(joined, rel);
    }
    DWORD n = GetFullPathNameW(joined, (DWORD)cap, full, NULL);
    if (n == 0 || n >= cap) fail(L"bad path %ls", joined, GetLastError());
    return full;
}

/* A bare program name looked up on PATH only (not in the current folder, not beside this .exe). */
static wchar_t *on_path(const wchar_t *prog) {
    DWORD n = GetEnvironmentVariableW(L"PATH", NULL, 0);
    wchar_t *path = NULL;
    if (n > 0) {
        path = HeapAlloc(GetProcessHeap(), 0, (size_t)n * sizeof(wchar_t));
        if (!path) fail(L"out of memory", L"", 0);
        GetEnvironmentVariableW(L"PATH", path, n);
    }
    wchar_t *found = HeapAlloc(GetProcessHeap(), 0, 32768 * sizeof(wchar_t));
    if (!found) fail(L"out of memory", L"", 0);
    /* SearchPathW with an explicit path list searches only that list. */
    if (path && SearchPathW(path, prog, L".exe", 32768, found, NULL) > 0) return found;
    fail(L"cannot find %ls on PATH (is Node.js installed?)", prog, 0);
    return NULL;
}

/* The rest of our command line after argv[0], as the C runtime would delimit argv[0]. */
static const wchar_t *after_argv0(const wchar_t *cl) {
    const wchar_t *p = cl;
    if (*p == L'"') {
        p++;
        while (*p && *p != L'"') p++;
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

static void inheritable_std(HANDLE *h, DWORD which) {
    *h = GetStdHandle(which);
    if (*h && *h != INVALID_HANDLE_VALUE) SetHandleInformation(*h, HANDLE_FLAG_INHERIT, HANDLE_FLAG_INHERIT);
}

int wmain(void) {
    DWORD n = GetModuleFileNameW(NULL, self, 32768);
    if (n == 0 || n >= 32768) fail(L"cannot find its own path", L"", GetLastError());
    const wchar_t *base = wcsrchr(self, L'\\');
    base = base ? base + 1 : self;
    wcsncpy(name, base, 259);
    name[259] = 0;
    wchar_t *dot = wcsrchr(name, L'.');
    if (dot) *dot = 0;

    wchar_t *node_spec, *script_spec;
    read_trailer(&node_spec, &script_spec);
    wchar_t *node = has_separator(node_spec) ? beside_self(node_spec) : on_path(node_spec);
    wchar_t *script = beside_self(script_spec);
    if (GetFileAttributesW(script) == INVALID_FILE_ATTRIBUTES) fail(L"cannot find its script %ls", script, GetLastError());

    const wchar_t *rest = after_argv0(GetCommandLineW());
    size_t len = wcslen(node) + wcslen(script) + wcslen(rest) + 8;
    if (len > 32767) fail(L"command line too long", L"", 0);
    wchar_t *cl = HeapAlloc(GetProcessHeap(), 0, len * sizeof(wchar_t));
    if (!cl) fail(L"out of memory", L"", 0);
    _snwprintf(cl, len, *rest ? L"\"%ls\" \"%ls\" %ls" : L"\"%ls\" \"%ls\"%ls", node, script, rest);
    cl[len - 1] = 0;

    STARTUPINFOW si;
    GetStartupInfoW(&si);
    si.cb = sizeof si;
    si.dwFlags |= STARTF_USESTDHANDLES;
    si.lpReserved2 = NULL; /* the C runtime's fd table of our parent is not node's business */
    si.cbReserved2 = 0;
    inheritable_std(&si.hStdInput, STD_INPUT_HANDLE);
    inheritable_std(&si.hStdOutput, STD_OUTPUT_HANDLE);
    inheritable_std(&si.hStdError, STD_ERROR_HANDLE);

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
    if (!CreateProcessW(node, cl, NULL, NULL, TRUE, CREATE_SUSPENDED, NULL, NULL, &si, &pi))
        fail(L"cannot start %ls", node, GetLastError());
    /* Best effort: an older Windows may refuse a nested job; node then simply runs outside one. */
    if (job && !AssignProcessToJobObject(job, pi.hProcess)) {
        CloseHandle(job);
        job = NULL;
    }
    ResumeThread(pi.hThread);
    CloseHandle(pi.hThread);
    WaitForSingleObject(pi.hProcess, INFINITE);
    DWORD code = 1;
    GetExitCodeProcess(pi.hProcess, &code);
    return (int)code;
}
