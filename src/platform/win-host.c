/*
 * arms-host.exe: what ARMS needs of Windows that Node cannot ask for. Built by
 * scripts/build-launcher.sh into bin/win/arms-host.exe (committed, checked with --check); used by
 * src/platform/win-process.ts, win-service.ts and system-log.ts. One small program, one job per verb:
 *
 *   arms-host run <command line>     start <command line> as the head of a process group of its own
 *                                    (CREATE_NEW_PROCESS_GROUP, same console), in a job object that
 *                                    ends the whole tree when this host is ended; wait for it and
 *                                    exit with its exit code. armsd starts every watched program so.
 *                                    Given a pipe as fd 3 (node's stdio[3]), the host writes one line
 *                                    to it once the program is started, "started PID", or why it
 *                                    could not be, "failed WHY" (then exits 126 or 127).
 *   arms-host run-as <user> <credentials file> <command line>
 *                                    the same, as another account: the password stored by `protect`
 *                                    (DPAPI, readable only by the account that stored it: the
 *                                    service's), LogonUser, then CreateProcessAsUser.
 *   arms-host protect <file>         reads a password on stdin, writes it to <file> sealed with DPAPI
 *                                    for the account running this host.
 *   arms-host break <pid>            the polite stop: Ctrl+Break to the process group of each program
 *                                    `pid` (a host of `run`) started, and WM_CLOSE to every top-level
 *                                    window of the tree. Exit 0 when something was told, 3 when the
 *                                    tree has neither a console group nor a window (only a forced
 *                                    stop can end it then).
 *   arms-host kill <pid>             the forced stop: TerminateProcess on `pid` and every process
 *                                    below it in the process table (a parent-link walk of one
 *                                    snapshot, so a child whose parent already ended is found when
 *                                    its parent was seen, unlike taskkill /T run later).
 *   arms-host serve                  break and kill as requests on stdin, one line each, "ID break PID"
 *                                    or "ID kill PID", answered "ID CODE" on stdout (the exit codes
 *                                    of those verbs) in the order they finish: one resident host per
 *                                    armsd, so that a stop starts no process. Ends at the end of stdin.
 *   arms-host service <options>      the service itself, run by the service control manager: starts
 *                                    node armsd.js, reports RUNNING once armsd answers on its pipe,
 *                                    and on stop or shutdown asks armsd to stop (which runs every
 *                                    group's stop script), then reports STOPPED. When armsd ends on
 *                                    its own, the host ends without reporting STOPPED: a failure, for
 *                                    which the SCM runs the recovery actions. Its own log:
 *                                    <home>\log\service.log; armsd's output: <home>\log\armsd.out.
 *   arms-host install <options>      registers the service (automatic start, LocalSystem), its
 *                                    description, its recovery actions (restart after 5 s, 5 s, then
 *                                    60 s; the count returns to zero after a day), and the Event Log
 *                                    source of the same name (messages from this file).
 *   arms-host uninstall --name N     stops the service if it runs, removes it and its event source.
 *   arms-host event <source> <INFO|WARN|ERR> <text>   one Application event (ReportEvent, ID 1..3).
 *
 * Options of service/install: --name N --node <node.exe> --script <armsd.js> --home <ARMS_HOME>
 * --pipe <\\.\pipe\arms-...> [--display "text"]. Errors: one line "arms-host: ..." on stderr, exit 1
 * (2 for a usage error).
 */
#define WIN32_LEAN_AND_MEAN
#ifndef UNICODE
#define UNICODE
#define _UNICODE
#endif
#include <windows.h>
#include <tlhelp32.h>
#include <wincrypt.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <wchar.h>

#define BIG 32768

/* Where `run`/`run-as` tell their caller whether the program started: the pipe the caller gave
   as its fd 3 (node's stdio[3]), found in STARTUPINFO.lpReserved2 as the C runtimes pass
   descriptors on (a count, one flag byte each, then one HANDLE each, unaligned). NULL without one. */
static HANDLE report_to;

static void open_report(void) {
    STARTUPINFOW si;
    si.cb = sizeof si;
    GetStartupInfoW(&si);
    if (si.cbReserved2 < sizeof(int) || !si.lpReserved2) return;
    int n;
    memcpy(&n, si.lpReserved2, sizeof n);
    if (n < 4 || si.cbReserved2 < sizeof(int) + (size_t)n * (1 + sizeof(HANDLE))) return;
    HANDLE h;
    memcpy(&h, si.lpReserved2 + sizeof(int) + n + 3 * sizeof(HANDLE), sizeof h);
    if (!h || h == INVALID_HANDLE_VALUE || GetFileType(h) != FILE_TYPE_PIPE) return;
    /* Only for us: the program must not hold the caller's pipe open. */
    SetHandleInformation(h, HANDLE_FLAG_INHERIT, 0);
    report_to = h;
}

/* One line to the caller's report pipe, which is then closed: "started PID" or "failed WHY". */
static void tell(const char *line, int len) {
    if (!report_to) return;
    DWORD written;
    WriteFile(report_to, line, (DWORD)len, &written, NULL);
    CloseHandle(report_to);
    report_to = NULL;
}

/* One line "arms-host: <what> (<system message>)" on stderr in UTF-8 (and, while a caller waits
   for a start, "failed <what> (...)" on its report pipe). */
static void say(const wchar_t *fmt, const wchar_t *a, DWORD err) {
    wchar_t line[2048], msg[512] = L"";
    if (err) {
        FormatMessageW(FORMAT_MESSAGE_FROM_SYSTEM | FORMAT_MESSAGE_IGNORE_INSERTS, NULL, err, 0, msg, 512, NULL);
        size_t n = wcslen(msg);
        while (n > 0 && (msg[n - 1] == L'\r' || msg[n - 1] == L'\n' || msg[n - 1] == L' ' || msg[n - 1] == L'.')) msg[--n] = 0;
        if (!msg[0]) _snwprintf(msg, 511, L"error %lu", err);
    }
    int len = _snwprintf(line, 1900, L"arms-host: ");
    len += _snwprintf(line + len, 1900 - len, fmt, a ? a : L"");
    if (err) len += _snwprintf(line + len, 1900 - len, L" (%ls)", msg);
    line[1900] = 0;
    if (len < 0 || len > 1900) len = (int)wcslen(line);
    line[len++] = L'\n';
    char out[8192];
    int bytes = WideCharToMultiByte(CP_UTF8, 0, line, len, out, sizeof out, NULL, NULL);
    DWORD written;
    HANDLE h = GetStdHandle(STD_ERROR_HANDLE);
    if (h && h != INVALID_HANDLE_VALUE && bytes > 0) WriteFile(h, out, (DWORD)bytes, &written, NULL);
    if (report_to && bytes > 11) {
        memcpy(out + 4, "failed ", 7); /* "arms-host: X" -> "failed X" */
        tell(out + 4, bytes - 4);
    }
}

static void fail(int code, const wchar_t *fmt, const wchar_t *a, DWORD err) {
    say(fmt, a, err);
    ExitProcess((UINT)code);
}

/* The command line after the first `words` words, delimited as the C runtime delimits argv[0]. */
static const wchar_t *after_words(const wchar_t *p, int words) {
    for (int i = 0; i < words; i++) {
        if (*p == L'"') {
            for (p++; *p && *p != L'"'; p++) {}
            if (*p) p++;
        } else {
            while (*p && *p != L' ' && *p != L'\t') p++;
        }
        while (*p == L' ' || *p == L'\t') p++;
    }
    return p;
}

static BOOL WINAPI ignore_ctrl(DWORD type) {
    (void)type;
    return TRUE;
}

/* ---- run ---------------------------------------------------------------------------------- */

/* The credentials file's sealed password, unsealed (DPAPI), or exit 1 saying why. */
static wchar_t *unseal(const wchar_t *file) {
    HANDLE f = CreateFileW(file, GENERIC_READ, FILE_SHARE_READ, NULL, OPEN_EXISTING, 0, NULL);
    if (f == INVALID_HANDLE_VALUE) fail(1, L"no stored credentials in %ls", file, GetLastError());
    static BYTE sealed[8192];
    DWORD got = 0;
    ReadFile(f, sealed, sizeof sealed, &got, NULL);
    CloseHandle(f);
    DATA_BLOB in = {got, sealed}, out = {0, NULL}, salt = {4, (BYTE *)"ARMS"};
    if (!CryptUnprotectData(&in, NULL, &salt, NULL, NULL, CRYPTPROTECT_UI_FORBIDDEN, &out))
        fail(1, L"cannot unseal %ls (stored by another account? store them again with arms account set)", file, GetLastError());
    wchar_t *pw = HeapAlloc(GetProcessHeap(), HEAP_ZERO_MEMORY, out.cbData + sizeof(wchar_t));
    memcpy(pw, out.pbData, out.cbData);
    SecureZeroMemory(out.pbData, out.cbData);
    LocalFree(out.pbData);
    return pw;
}

static int do_run(HANDLE token, int words) {
    const wchar_t *rest = after_words(GetCommandLineW(), words);
    if (!*rest) fail(2, L"run needs a command line%ls", L"", 0);
    wchar_t *cl = HeapAlloc(GetProcessHeap(), HEAP_ZERO_MEMORY, (wcslen(rest) + 1) * sizeof(wchar_t));
    wcscpy(cl, rest);

    /* The whole tree ends with this host (a forced stop ends the host); nothing may break away. */
    HANDLE job = CreateJobObjectW(NULL, NULL);
    if (job) {
        JOBOBJECT_EXTENDED_LIMIT_INFORMATION lim;
        ZeroMemory(&lim, sizeof lim);
        lim.BasicLimitInformation.LimitFlags = JOB_OBJECT_LIMIT_KILL_ON_JOB_CLOSE;
        if (!SetInformationJobObject(job, JobObjectExtendedLimitInformation, &lim, sizeof lim)) {
            CloseHandle(job);
            job = NULL;
        }
    }
    STARTUPINFOW si;
    ZeroMemory(&si, sizeof si);
    si.cb = sizeof si;
    si.dwFlags = STARTF_USESTDHANDLES | STARTF_USESHOWWINDOW;
    si.wShowWindow = SW_HIDE;
    si.hStdInput = GetStdHandle(STD_INPUT_HANDLE);
    si.hStdOutput = GetStdHandle(STD_OUTPUT_HANDLE);
    si.hStdError = GetStdHandle(STD_ERROR_HANDLE);
    /* Ctrl+Break travels through a console: a host started without one (its parent had none) makes
       one, hidden, for the program to share (under Wine such a host holds a console handle without
       a code page, and AllocConsole refuses until it is let go). The program keeps the standard
       handles we were given. */
    if (GetConsoleCP() == 0 && (FreeConsole(), AllocConsole())) {
        HWND w = GetConsoleWindow();
        if (w) ShowWindow(w, SW_HIDE);
    }
    /* Ctrl+Break goes to the program's own group; should one reach us, the program decides. */
    SetConsoleCtrlHandler(ignore_ctrl, TRUE);
    for (DWORD h = STD_ERROR_HANDLE; h <= STD_INPUT_HANDLE; h++) {
        HANDLE x = GetStdHandle(h);
        if (x && x != INVALID_HANDLE_VALUE) SetHandleInformation(x, HANDLE_FLAG_INHERIT, HANDLE_FLAG_INHERIT);
    }
    PROCESS_INFORMATION pi;
    DWORD flags = CREATE_NEW_PROCESS_GROUP | CREATE_SUSPENDED | CREATE_UNICODE_ENVIRONMENT;
    BOOL started = token ? CreateProcessAsUserW(token, NULL, cl, NULL, NULL, TRUE, flags, NULL, NULL, &si, &pi)
                         : CreateProcessW(NULL, cl, NULL, NULL, TRUE, flags, NULL, NULL, &si, &pi);
    if (!started) {
        DWORD err = GetLastError();
        if (token) fail(127, L"the logon worked, but the program could not be started as that account%ls", L"", err);
        fail(127, L"cannot start %ls", cl, err);
    }
    if (job && !AssignProcessToJobObject(job, pi.hProcess)) {
        CloseHandle(job); /* an old Windows refusing nested jobs: the tree is found by kill's walk */
        job = NULL;
    }
    ResumeThread(pi.hThread);
    CloseHandle(pi.hThread);
    /* Only now is the program started (as the account, for run-as): the caller may say so. */
    char line[64];
    tell(line, snprintf(line, sizeof line, "started %lu\n", pi.dwProcessId));
    /* `break` asks through this event; the Ctrl+Break is sent from here, inside the console the
       program shares (attaching another process to it was refused under Wine). */
    wchar_t name[64];
    _snwprintf(name, 63, L"Local\\arms-host-break-%lu", GetCurrentProcessId());
    HANDLE ask = CreateEventW(NULL, FALSE, FALSE, name);
    _snwprintf(name, 63, L"Local\\arms-host-broke-%lu", GetCurrentProcessId());
    HANDLE sent = CreateEventW(NULL, FALSE, FALSE, name);
    _snwprintf(name, 63, L"Local\\arms-host-nobreak-%lu", GetCurrentProcessId());
    HANDLE refused = CreateEventW(NULL, FALSE, FALSE, name);
    HANDLE both[2] = {pi.hProcess, ask};
    while (WaitForMultipleObjects(ask ? 2 : 1, both, FALSE, INFINITE) == WAIT_OBJECT_0 + 1) {
        HANDLE answer = GenerateConsoleCtrlEvent(CTRL_BREAK_EVENT, pi.dwProcessId) ? sent : refused;
        if (answer) SetEvent(answer);
    }
    DWORD code = 1;
    GetExitCodeProcess(pi.hProcess, &code);
    return (int)code;
}

/* run-as USER FILE <command line>: USER is "name", "DOMAIN\\name" or "name@domain". */
static int do_run_as(int argc, wchar_t **argv) {
    if (argc < 5) fail(2, L"usage: arms-host run-as USER CREDENTIALS-FILE COMMAND-LINE%ls", L"", 0);
    wchar_t user[256], *domain = L".";
    wcsncpy(user, argv[2], 255);
    user[255] = 0;
    wchar_t *slash = wcschr(user, L'\\');
    const wchar_t *name = user;
    if (slash) *slash = 0, domain = user, name = slash + 1;
    else if (wcschr(user, L'@')) domain = NULL;
    wchar_t *pw = unseal(argv[3]);
    HANDLE token = NULL;
    /* A batch logon (the right for scheduled work), else an interactive one. */
    if (!LogonUserW(name, domain, pw, LOGON32_LOGON_BATCH, LOGON32_PROVIDER_DEFAULT, &token) &&
        !LogonUserW(name, domain, pw, LOGON32_LOGON_INTERACTIVE, LOGON32_PROVIDER_DEFAULT, &token)) {
        DWORD err = GetLastError();
        SecureZeroMemory(pw, wcslen(pw) * sizeof(wchar_t));
        fail(126, L"cannot log on as %ls with the stored credentials", argv[2], err);
    }
    SecureZeroMemory(pw, wcslen(pw) * sizeof(wchar_t));
    return do_run(token, 4);
}

/* protect FILE: the password on stdin (UTF-8, one line), sealed for this account, to FILE. */
static int do_protect(int argc, wchar_t **argv) {
    if (argc != 3) fail(2, L"usage: arms-host protect FILE (the password on stdin)%ls", L"", 0);
    static char line[1025];
    DWORD got = 0, n;
    HANDLE in = GetStdHandle(STD_INPUT_HANDLE);
    while (got < 1024 && ReadFile(in, line + got, 1024 - got, &n, NULL) && n > 0) got += n;
    while (got > 0 && (line[got - 1] == '\n' || line[got - 1] == '\r')) got--;
    line[got] = 0;
    if (got == 0) fail(2, L"no password on stdin%ls", L"", 0);
    static wchar_t pw[1025];
    int chars = MultiByteToWideChar(CP_UTF8, 0, line, (int)got, pw, 1024);
    SecureZeroMemory(line, sizeof line);
    DATA_BLOB plain = {(DWORD)chars * sizeof(wchar_t), (BYTE *)pw}, sealed = {0, NULL}, salt = {4, (BYTE *)"ARMS"};
    BOOL ok = CryptProtectData(&plain, L"ARMS account", &salt, NULL, NULL, CRYPTPROTECT_UI_FORBIDDEN, &sealed);
    SecureZeroMemory(pw, sizeof pw);
    if (!ok) fail(1, L"cannot seal the password%ls", L"", GetLastError());
    HANDLE f = CreateFileW(argv[2], GENERIC_WRITE, 0, NULL, CREATE_ALWAYS, FILE_ATTRIBUTE_NORMAL, NULL);
    if (f == INVALID_HANDLE_VALUE) fail(1, L"cannot write %ls", argv[2], GetLastError());
    DWORD written = 0;
    ok = WriteFile(f, sealed.pbData, sealed.cbData, &written, NULL) && written == sealed.cbData;
    CloseHandle(f);
    LocalFree(sealed.pbData);
    if (!ok) fail(1, L"cannot write %ls", argv[2], GetLastError());
    return 0;
}

/* ---- the process table -------------------------------------------------------------------- */

typedef struct {
    DWORD pid, ppid;
    wchar_t exe[MAX_PATH];
} proc_t;

/* One snapshot of the process table and the tree of one pid in it. Each request of `serve` has
   its own (they run on threads of their own). */
typedef struct {
    proc_t *procs;
    char *in;
    int n;
} table_t;

static void table_free(table_t *t) {
    if (t->procs) HeapFree(GetProcessHeap(), 0, t->procs);
    if (t->in) HeapFree(GetProcessHeap(), 0, t->in);
    t->procs = NULL, t->in = NULL, t->n = 0;
}

/* Reads the table into t; FALSE (and GetLastError) when it cannot. */
static BOOL snapshot(table_t *t) {
    ZeroMemory(t, sizeof *t);
    HANDLE s = CreateToolhelp32Snapshot(TH32CS_SNAPPROCESS, 0);
    if (s == INVALID_HANDLE_VALUE) return FALSE;
    int cap = 1024;
    t->procs = HeapAlloc(GetProcessHeap(), HEAP_ZERO_MEMORY, cap * sizeof(proc_t));
    PROCESSENTRY32W e;
    e.dwSize = sizeof e;
    for (BOOL ok = Process32FirstW(s, &e); ok; ok = Process32NextW(s, &e)) {
        if (t->n == cap) {
            cap *= 2;
            t->procs = HeapReAlloc(GetProcessHeap(), HEAP_ZERO_MEMORY, t->procs, cap * sizeof(proc_t));
        }
        t->procs[t->n].pid = e.th32ProcessID;
        t->procs[t->n].ppid = e.th32ParentProcessID;
        wcsncpy(t->procs[t->n].exe, e.szExeFile, MAX_PATH - 1);
        t->n++;
    }
    CloseHandle(s);
    t->in = HeapAlloc(GetProcessHeap(), HEAP_ZERO_MEMORY, t->n + 1);
    return TRUE;
}

/* Marks `pid` and everything below it (by parent links) in t->in; returns how many. */
static int tree(table_t *t, DWORD pid) {
    int found = 0;
    for (int i = 0; i < t->n; i++)
        if (t->procs[i].pid == pid) t->in[i] = 1, found = 1;
    if (!found) return 0;
    /* A process whose parent ended may carry a reused PID as its ppid: a process is never its own
       parent. Repeat until stable. */
    for (int changed = 1; changed;) {
        changed = 0;
        for (int i = 0; i < t->n; i++) {
            if (t->in[i] || t->procs[i].pid == t->procs[i].ppid) continue;
            for (int j = 0; j < t->n; j++)
                if (t->in[j] && t->procs[j].pid == t->procs[i].ppid) {
                    t->in[i] = 1, changed = 1, found++;
                    break;
                }
        }
    }
    return found;
}

static DWORD arg_pid(const wchar_t *s) {
    wchar_t *end;
    unsigned long v = wcstoul(s, &end, 10);
    if (!*s || *end || v == 0) fail(2, L"not a process id: \"%ls\"", s, 0);
    return (DWORD)v;
}

/* ---- break -------------------------------------------------------------------------------- */

typedef struct {
    table_t *t;
    int told;
} windows_t;

static BOOL CALLBACK close_window(HWND w, LPARAM arg) {
    windows_t *ws = (windows_t *)arg;
    DWORD pid = 0;
    GetWindowThreadProcessId(w, &pid);
    for (int i = 0; i < ws->t->n; i++)
        if (ws->t->in[i] && ws->t->procs[i].pid == pid && IsWindowVisible(w)) {
            if (PostMessageW(w, WM_CLOSE, 0, 0)) ws->told++;
            break;
        }
    return TRUE;
}

/* The polite stop of pid's tree: 0 told, 3 nothing could be told, 4 gone, 1 no process table. */
static int break_tree(DWORD pid) {
    table_t t;
    if (!snapshot(&t)) return table_free(&t), 1;
    if (!tree(&t, pid)) return table_free(&t), 4;
    int host = 0;
    for (int i = 0; i < t.n; i++)
        if (t.procs[i].pid == pid && _wcsicmp(t.procs[i].exe, L"arms-host.exe") == 0) host = 1;
    int groups = 0;
    /* Only a program a host started leads a group of its own (Ctrl+Break to any other group could
       reach armsd itself): the host sends it, asked through its event. */
    if (host) {
        wchar_t name[64];
        _snwprintf(name, 63, L"Local\\arms-host-broke-%lu", pid);
        HANDLE sent = OpenEventW(SYNCHRONIZE, FALSE, name);
        _snwprintf(name, 63, L"Local\\arms-host-nobreak-%lu", pid);
        HANDLE refused = OpenEventW(SYNCHRONIZE, FALSE, name);
        _snwprintf(name, 63, L"Local\\arms-host-break-%lu", pid);
        HANDLE ask = OpenEventW(EVENT_MODIFY_STATE, FALSE, name);
        /* Told only once the host says the console took the event; it may refuse it (no console). */
        HANDLE answers[2] = {sent, refused};
        if (ask && sent && refused && SetEvent(ask) && WaitForMultipleObjects(2, answers, FALSE, 2000) == WAIT_OBJECT_0) groups++;
        if (ask) CloseHandle(ask);
        if (sent) CloseHandle(sent);
        if (refused) CloseHandle(refused);
    }
    windows_t ws = {&t, 0};
    EnumWindows(close_window, (LPARAM)&ws);
    table_free(&t);
    return groups + ws.told > 0 ? 0 : 3;
}

/* ---- kill --------------------------------------------------------------------------------- */

/* The forced stop of pid's tree: 0 done, 4 gone, 1 something could not be ended. */
static int kill_tree(DWORD pid) {
    table_t t;
    if (!snapshot(&t)) return table_free(&t), 1;
    if (!tree(&t, pid)) return table_free(&t), 4;
    int failed = 0;
    /* The head first: a job of a `run` host then ends the rest at once; then the others. */
    for (int pass = 0; pass < 2; pass++)
        for (int i = 0; i < t.n; i++) {
            if (!t.in[i] || (pass == 0) != (t.procs[i].pid == pid)) continue;
            HANDLE h = OpenProcess(PROCESS_TERMINATE | SYNCHRONIZE, FALSE, t.procs[i].pid);
            if (!h) continue; /* ended meanwhile */
            if (!TerminateProcess(h, 1) && WaitForSingleObject(h, 0) != WAIT_OBJECT_0) failed++;
            CloseHandle(h);
        }
    table_free(&t);
    return failed ? 1 : 0;
}

/* ---- serve -------------------------------------------------------------------------------- */

/* One request of `serve`: "ID break PID" or "ID kill PID"; answered "ID CODE" (the codes of the
   break and kill verbs), each on a thread of its own so that a kill never waits behind a break
   whose host is slow to answer. */
typedef struct {
    unsigned long id, pid;
    int kill;
} request_t;

static CRITICAL_SECTION out_lock;

static void answer(unsigned long id, int code) {
    char line[64];
    int n = snprintf(line, sizeof line, "%lu %d\n", id, code);
    DWORD written;
    EnterCriticalSection(&out_lock);
    WriteFile(GetStdHandle(STD_OUTPUT_HANDLE), line, (DWORD)n, &written, NULL);
    LeaveCriticalSection(&out_lock);
}

static DWORD WINAPI serve_one(LPVOID arg) {
    request_t r = *(request_t *)arg;
    HeapFree(GetProcessHeap(), 0, arg);
    answer(r.id, r.kill ? kill_tree(r.pid) : break_tree(r.pid));
    return 0;
}

static void serve_line(const char *line) {
    char verb[16];
    unsigned long id = 0, pid = 0;
    char extra;
    if (sscanf(line, "%lu %15s %lu %c", &id, verb, &pid, &extra) != 3 || pid == 0 || (strcmp(verb, "break") && strcmp(verb, "kill"))) {
        answer(id, 2);
        return;
    }
    request_t *r = HeapAlloc(GetProcessHeap(), 0, sizeof *r);
    r->id = id, r->pid = pid, r->kill = !strcmp(verb, "kill");
    HANDLE th = CreateThread(NULL, 64 * 1024, serve_one, r, STACK_SIZE_PARAM_IS_A_RESERVATION, NULL);
    if (th) CloseHandle(th);
    else serve_one(r);
}

/* serve: one resident host per armsd (win-process.ts), so a stop costs no process start-up. Ends
   when its stdin ends (armsd closed it or ended). */
static int do_serve(void) {
    InitializeCriticalSection(&out_lock);
    /* It shares armsd's console: a Ctrl+Break meant for a group is never ours to end on. */
    SetConsoleCtrlHandler(ignore_ctrl, TRUE);
    HANDLE in = GetStdHandle(STD_INPUT_HANDLE);
    static char buf[4096];
    DWORD have = 0, got;
    while (ReadFile(in, buf + have, sizeof buf - 1 - have, &got, NULL) && got > 0) {
        have += got;
        buf[have] = 0;
        char *start = buf, *nl;
        while ((nl = memchr(start, '\n', have - (start - buf)))) {
            *nl = 0;
            serve_line(start);
            start = nl + 1;
        }
        have -= (DWORD)(start - buf);
        memmove(buf, start, have);
        if (have == sizeof buf - 1) have = 0; /* a line too long for any request: dropped */
    }
    return 0;
}

static int do_break(DWORD pid) {
    int code = break_tree(pid);
    if (code == 1) fail(1, L"cannot read the process table%ls", L"", GetLastError());
    return code;
}

static int do_kill(DWORD pid) {
    int code = kill_tree(pid);
    if (code == 1) say(L"could not end every process of the tree%ls", L"", 0);
    return code;
}

/* ---- event -------------------------------------------------------------------------------- */

static int do_event(int argc, wchar_t **argv) {
    if (argc != 5) fail(2, L"usage: arms-host event SOURCE INFO|WARN|ERR TEXT%ls", L"", 0);
    WORD type = EVENTLOG_INFORMATION_TYPE;
    DWORD id = 1;
    if (_wcsicmp(argv[3], L"WARN") == 0) type = EVENTLOG_WARNING_TYPE, id = 2;
    else if (_wcsicmp(argv[3], L"ERR") == 0) type = EVENTLOG_ERROR_TYPE, id = 3;
    else if (_wcsicmp(argv[3], L"INFO") != 0) fail(2, L"unknown level \"%ls\" (INFO, WARN or ERR)", argv[3], 0);
    HANDLE src = RegisterEventSourceW(NULL, argv[2]);
    if (!src) fail(1, L"cannot open the event source %ls", argv[2], GetLastError());
    LPCWSTR strings[1] = {argv[4]};
    BOOL ok = ReportEventW(src, type, 0, id, NULL, 1, 0, strings, NULL);
    DWORD err = GetLastError();
    DeregisterEventSource(src);
    if (!ok) fail(1, L"cannot write to the event log (source %ls)", argv[2], err);
    return 0;
}

/* ---- options of service / install --------------------------------------------------------- */

static const wchar_t *opt_name, *opt_node, *opt_script, *opt_home, *opt_pipe, *opt_display;

static void options(int argc, wchar_t **argv, int need_all) {
    for (int i = 2; i < argc; i++) {
        const wchar_t **to = NULL;
        if (!wcscmp(argv[i], L"--name")) to = &opt_name;
        else if (!wcscmp(argv[i], L"--node")) to = &opt_node;
        else if (!wcscmp(argv[i], L"--script")) to = &opt_script;
        else if (!wcscmp(argv[i], L"--home")) to = &opt_home;
        else if (!wcscmp(argv[i], L"--pipe")) to = &opt_pipe;
        else if (!wcscmp(argv[i], L"--display")) to = &opt_display;
        if (!to || i + 1 >= argc) fail(2, L"unknown or incomplete option \"%ls\"", argv[i], 0);
        *to = argv[++i];
    }
    if (!opt_name || (need_all && (!opt_node || !opt_script || !opt_home || !opt_pipe))) fail(2, L"needs --name%ls", need_all ? L" --node --script --home --pipe" : L"", 0);
}

/* A command-line argument quoted by the C runtime's rules. */
static void quote(wchar_t *out, size_t cap, const wchar_t *a) {
    size_t n = wcslen(out);
    if (n + 1 < cap) out[n++] = L'"';
    size_t bs = 0;
    for (const wchar_t *p = a; *p && n + 4 < cap; p++) {
        if (*p == L'\\') { bs++; out[n++] = L'\\'; continue; }
        if (*p == L'"') { for (size_t k = 0; k <= bs && n + 2 < cap; k++) out[n++] = L'\\'; }
        bs = 0;
        out[n++] = *p;
    }
    for (size_t k = 0; k < bs && n + 2 < cap; k++) out[n++] = L'\\';
    out[n++] = L'"';
    out[n] = 0;
}

/* ---- service ------------------------------------------------------------------------------ */

static SERVICE_STATUS_HANDLE status_handle;
static SERVICE_STATUS status;
static HANDLE stop_event;
static PROCESS_INFORMATION armsd;
static wchar_t log_line[1024];

static void report(DWORD state, DWORD exit_code, DWORD wait_hint) {
    static DWORD checkpoint = 1;
    status.dwServiceType = SERVICE_WIN32_OWN_PROCESS;
    status.dwCurrentState = state;
    status.dwControlsAccepted = state == SERVICE_RUNNING ? SERVICE_ACCEPT_STOP | SERVICE_ACCEPT_PRESHUTDOWN : 0;
    if (exit_code) {
        status.dwWin32ExitCode = ERROR_SERVICE_SPECIFIC_ERROR;
        status.dwServiceSpecificExitCode = exit_code;
    } else {
        status.dwWin32ExitCode = NO_ERROR;
        status.dwServiceSpecificExitCode = 0;
    }
    status.dwWaitHint = wait_hint;
    status.dwCheckPoint = (state == SERVICE_RUNNING || state == SERVICE_STOPPED) ? 0 : checkpoint++;
    SetServiceStatus(status_handle, &status);
}

/* A line in the service's own log file, <home>\\log\\service.log (UTF-8). */
static void service_log(const wchar_t *fmt, ...) {
    wchar_t file[BIG];
    _snwprintf(file, BIG - 1, L"%ls\\log\\service.log", opt_home);
    HANDLE f = CreateFileW(file, FILE_APPEND_DATA, FILE_SHARE_READ | FILE_SHARE_WRITE, NULL, OPEN_ALWAYS, 0, NULL);
    if (f == INVALID_HANDLE_VALUE) return;
    SYSTEMTIME t;
    GetSystemTime(&t);
    int n = _snwprintf(log_line, 1000, L"%04u-%02u-%02uT%02u:%02u:%02uZ arms-host: ", t.wYear, t.wMonth, t.wDay, t.wHour, t.wMinute, t.wSecond);
    va_list ap;
    va_start(ap, fmt);
    n += _vsnwprintf(log_line + n, 1000 - n, fmt, ap);
    va_end(ap);
    log_line[1000] = 0;
    if (n < 0 || n > 1000) n = (int)wcslen(log_line);
    log_line[n++] = L'\r';
    log_line[n++] = L'\n';
    char out[4096];
    int bytes = WideCharToMultiByte(CP_UTF8, 0, log_line, n, out, sizeof out, NULL, NULL);
    DWORD written;
    if (bytes > 0) WriteFile(f, out, (DWORD)bytes, &written, NULL);
    CloseHandle(f);
}

static DWORD WINAPI on_control(DWORD control, DWORD type, LPVOID data, LPVOID context) {
    (void)type, (void)data, (void)context;
    switch (control) {
    case SERVICE_CONTROL_STOP:
    case SERVICE_CONTROL_PRESHUTDOWN:
    case SERVICE_CONTROL_SHUTDOWN:
        report(SERVICE_STOP_PENDING, 0, 30000);
        SetEvent(stop_event);
        return NO_ERROR;
    case SERVICE_CONTROL_INTERROGATE:
        return NO_ERROR;
    }
    return ERROR_CALL_NOT_IMPLEMENTED;
}

/* Asks armsd over its pipe to stop (as `arms service stop` does): it stops every group first. */
static int ask_stop(void) {
    for (int tries = 0; tries < 20; tries++) {
        HANDLE p = CreateFileW(opt_pipe, GENERIC_READ | GENERIC_WRITE, 0, NULL, OPEN_EXISTING, 0, NULL);
        if (p == INVALID_HANDLE_VALUE) {
            if (GetLastError() == ERROR_PIPE_BUSY) WaitNamedPipeW(opt_pipe, 500);
            else Sleep(100);
            continue;
        }
        char req[128];
        int n = snprintf(req, sizeof req, "{\"v\":1,\"id\":1,\"op\":\"stop\",\"args\":{\"pid\":%lu}}\n", GetCurrentProcessId());
        DWORD done;
        BOOL ok = WriteFile(p, req, (DWORD)n, &done, NULL);
        char answer[512];
        if (ok) ReadFile(p, answer, sizeof answer, &done, NULL);
        CloseHandle(p);
        return ok;
    }
    return 0;
}

static void WINAPI service_main(DWORD argc, LPWSTR *argv) {
    (void)argc, (void)argv;
    status_handle = RegisterServiceCtrlHandlerExW(opt_name, on_control, NULL);
    if (!status_handle) return;
    report(SERVICE_START_PENDING, 0, 60000);
    stop_event = CreateEventW(NULL, TRUE, FALSE, NULL);

    /* armsd's environment: its home, and node's folder first on PATH (the launchers look for node there). */
    SetEnvironmentVariableW(L"ARMS_HOME", opt_home);
    wchar_t *path = HeapAlloc(GetProcessHeap(), HEAP_ZERO_MEMORY, BIG * 2 * sizeof(wchar_t));
    wcsncpy(path, opt_node, BIG - 1);
    wchar_t *slash = wcsrchr(path, L'\\');
    if (slash) {
        *slash = 0;
        size_t n = wcslen(path);
        path[n++] = L';';
        GetEnvironmentVariableW(L"PATH", path + n, BIG);
        SetEnvironmentVariableW(L"PATH", path);
    }
    wchar_t dir[BIG];
    _snwprintf(dir, BIG - 1, L"%ls\\log", opt_home);
    CreateDirectoryW(opt_home, NULL);
    CreateDirectoryW(dir, NULL);

    /* armsd's output goes to <home>\log\armsd.out, as with `arms service start`. */
    wchar_t out_file[BIG];
    _snwprintf(out_file, BIG - 1, L"%ls\\log\\armsd.out", opt_home);
    SECURITY_ATTRIBUTES sa = {sizeof sa, NULL, TRUE};
    HANDLE out = CreateFileW(out_file, FILE_APPEND_DATA, FILE_SHARE_READ | FILE_SHARE_WRITE, &sa, OPEN_ALWAYS, 0, NULL);
    HANDLE in = CreateFileW(L"NUL", GENERIC_READ, FILE_SHARE_READ | FILE_SHARE_WRITE, &sa, OPEN_EXISTING, 0, NULL);
    STARTUPINFOW si;
    ZeroMemory(&si, sizeof si);
    si.cb = sizeof si;
    si.dwFlags = STARTF_USESTDHANDLES | STARTF_USESHOWWINDOW;
    si.wShowWindow = SW_HIDE;
    si.hStdInput = in;
    si.hStdOutput = out;
    si.hStdError = out;
    wchar_t *cl = HeapAlloc(GetProcessHeap(), HEAP_ZERO_MEMORY, BIG * sizeof(wchar_t));
    quote(cl, BIG, opt_node);
    wcscat(cl, L" ");
    quote(cl, BIG, opt_script);
    /* A console of its own without a window: the watched programs share it, each in its own group. */
    if (!CreateProcessW(opt_node, cl, NULL, NULL, TRUE, CREATE_NO_WINDOW | CREATE_NEW_PROCESS_GROUP, NULL, opt_home, &si, &armsd)) {
        DWORD err = GetLastError();
        service_log(L"cannot start %ls (error %lu)", opt_node, err);
        report(SERVICE_STOPPED, 1, 0);
        return;
    }
    CloseHandle(armsd.hThread);
    service_log(L"started armsd (pid %lu)", armsd.dwProcessId);
    /* RUNNING once armsd answers on its pipe (it has read its config and taken its lock). */
    for (int i = 0;; i++) {
        if (WaitForSingleObject(armsd.hProcess, 0) == WAIT_OBJECT_0) {
            DWORD code = 1;
            GetExitCodeProcess(armsd.hProcess, &code);
            service_log(L"armsd ended while starting, exit code %lu (see armsd.out): ending without reporting STOPPED, so the recovery actions apply", code);
            ExitProcess(code ? code : 1);
        }
        if (WaitNamedPipeW(opt_pipe, 0)) break;
        if (WaitForSingleObject(stop_event, 0) == WAIT_OBJECT_0) break;
        if (i % 10 == 0) report(SERVICE_START_PENDING, 0, 60000);
        Sleep(100);
    }
    report(SERVICE_RUNNING, 0, 0);
    service_log(L"running");

    HANDLE both[2] = {stop_event, armsd.hProcess};
    DWORD which = WaitForMultipleObjects(2, both, FALSE, INFINITE);
    if (which == WAIT_OBJECT_0 + 1) {
        DWORD code = 1;
        GetExitCodeProcess(armsd.hProcess, &code);
        /* A service process that ends without reporting STOPPED has failed: the SCM runs the
           recovery actions (whatever the failure-actions flag says). */
        service_log(L"armsd ended on its own, exit code %lu: ending without reporting STOPPED, so the recovery actions apply", code);
        ExitProcess(code ? code : 1);
    }
    service_log(L"stop requested: asking armsd to stop its groups");
    ask_stop();
    /* Up to 10 minutes for the stop scripts, telling the SCM every few seconds that it goes on. */
    for (int i = 0; i < 200; i++) {
        if (WaitForSingleObject(armsd.hProcess, 3000) == WAIT_OBJECT_0) break;
        report(SERVICE_STOP_PENDING, 0, 30000);
    }
    if (WaitForSingleObject(armsd.hProcess, 0) != WAIT_OBJECT_0) {
        service_log(L"armsd did not stop in 10 minutes: ended");
        TerminateProcess(armsd.hProcess, 1);
    }
    DWORD code = 0;
    GetExitCodeProcess(armsd.hProcess, &code);
    service_log(L"armsd stopped, exit code %lu", code);
    report(SERVICE_STOPPED, 0, 0);
}

static int do_service(int argc, wchar_t **argv) {
    options(argc, argv, 1);
    SERVICE_TABLE_ENTRYW table[] = {{(LPWSTR)opt_name, service_main}, {NULL, NULL}};
    if (!StartServiceCtrlDispatcherW(table)) fail(1, L"not started by the service control manager%ls (use arms service install, then sc start)", L"", GetLastError());
    return 0;
}

/* ---- install / uninstall ------------------------------------------------------------------ */

static const wchar_t *EVENT_KEY = L"SYSTEM\\CurrentControlSet\\Services\\EventLog\\Application\\";

static int do_install(int argc, wchar_t **argv) {
    options(argc, argv, 1);
    wchar_t self[MAX_PATH];
    GetModuleFileNameW(NULL, self, MAX_PATH);
    wchar_t *bin = HeapAlloc(GetProcessHeap(), HEAP_ZERO_MEMORY, BIG * sizeof(wchar_t));
    quote(bin, BIG, self);
    const wchar_t *keys[] = {L"service", L"--name", opt_name, L"--node", opt_node, L"--script", opt_script, L"--home", opt_home, L"--pipe", opt_pipe};
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
        wcscat(bin, L" ");
        if (i == 0 || keys[i][0] == L'-') wcscat(bin, keys[i]);
        else quote(bin, BIG, keys[i]);
    }
    SC_HANDLE scm = OpenSCManagerW(NULL, NULL, SC_MANAGER_ALL_ACCESS);
    if (!scm) fail(1, L"cannot open the service control manager%ls (run as an administrator)", L"", GetLastError());
    /* Display names must be unique too: each service of ARMS names itself. */
    wchar_t display[300];
    _snwprintf(display, 299, L"ARMS control service (%ls)", opt_name);
    display[299] = 0;
    SC_HANDLE svc = CreateServiceW(scm, opt_name, opt_display ? opt_display : display, SERVICE_ALL_ACCESS, SERVICE_WIN32_OWN_PROCESS,
                                   SERVICE_AUTO_START, SERVICE_ERROR_NORMAL, bin, NULL, NULL, NULL, NULL, NULL);
    if (!svc) fail(1, L"cannot create the service %ls", opt_name, GetLastError());
    SERVICE_DESCRIPTIONW desc = {L"ARMS: runs the failover groups' start and stop scripts and supervises what they start (armsd)."};
    ChangeServiceConfig2W(svc, SERVICE_CONFIG_DESCRIPTION, &desc);
    SC_ACTION actions[3] = {{SC_ACTION_RESTART, 5000}, {SC_ACTION_RESTART, 5000}, {SC_ACTION_RESTART, 60000}};
    SERVICE_FAILURE_ACTIONSW fa = {86400, NULL, NULL, 3, actions};
    if (!ChangeServiceConfig2W(svc, SERVICE_CONFIG_FAILURE_ACTIONS, &fa)) say(L"could not set the recovery actions of %ls", opt_name, GetLastError());
    SERVICE_FAILURE_ACTIONS_FLAG on_errors = {TRUE}; /* also when STOPPED is reported with an error */
    ChangeServiceConfig2W(svc, SERVICE_CONFIG_FAILURE_ACTIONS_FLAG, &on_errors);
    SERVICE_PRESHUTDOWN_INFO pre = {180000};
    ChangeServiceConfig2W(svc, SERVICE_CONFIG_PRESHUTDOWN_INFO, &pre);
    CloseServiceHandle(svc);
    CloseServiceHandle(scm);

    wchar_t key[512];
    _snwprintf(key, 511, L"%ls%ls", EVENT_KEY, opt_name);
    HKEY k;
    if (RegCreateKeyExW(HKEY_LOCAL_MACHINE, key, 0, NULL, 0, KEY_SET_VALUE, NULL, &k, NULL) == ERROR_SUCCESS) {
        RegSetValueExW(k, L"EventMessageFile", 0, REG_EXPAND_SZ, (const BYTE *)self, (DWORD)((wcslen(self) + 1) * sizeof(wchar_t)));
        DWORD types = EVENTLOG_ERROR_TYPE | EVENTLOG_WARNING_TYPE | EVENTLOG_INFORMATION_TYPE;
        RegSetValueExW(k, L"TypesSupported", 0, REG_DWORD, (const BYTE *)&types, sizeof types);
        RegCloseKey(k);
    } else {
        say(L"could not register the event source %ls", opt_name, 0);
    }
    return 0;
}

static int do_uninstall(int argc, wchar_t **argv) {
    options(argc, argv, 0);
    SC_HANDLE scm = OpenSCManagerW(NULL, NULL, SC_MANAGER_ALL_ACCESS);
    if (!scm) fail(1, L"cannot open the service control manager%ls (run as an administrator)", L"", GetLastError());
    SC_HANDLE svc = OpenServiceW(scm, opt_name, SERVICE_ALL_ACCESS);
    if (!svc) fail(1, L"no service %ls", opt_name, GetLastError());
    SERVICE_STATUS st;
    /* A running service is stopped first (its groups' stop scripts run: up to 10 minutes); one
       that cannot take the request (its process is gone) is removed as it is. */
    if (QueryServiceStatus(svc, &st) && st.dwCurrentState != SERVICE_STOPPED && ControlService(svc, SERVICE_CONTROL_STOP, &st)) {
        for (int i = 0; i < 6000 && QueryServiceStatus(svc, &st) && st.dwCurrentState != SERVICE_STOPPED; i++) Sleep(100);
    }
    if (!DeleteService(svc)) fail(1, L"cannot remove the service %ls", opt_name, GetLastError());
    CloseServiceHandle(svc);
    CloseServiceHandle(scm);
    wchar_t key[512];
    _snwprintf(key, 511, L"%ls%ls", EVENT_KEY, opt_name);
    RegDeleteKeyW(HKEY_LOCAL_MACHINE, key);
    return 0;
}

int wmain(int argc, wchar_t **argv) {
    if (argc < 2) fail(2, L"usage: arms-host run|run-as|protect|break|kill|service|install|uninstall|event ...%ls", L"", 0);
    const wchar_t *verb = argv[1];
    if (!wcscmp(verb, L"run")) return open_report(), do_run(NULL, 2);
    if (!wcscmp(verb, L"run-as")) return open_report(), do_run_as(argc, argv);
    if (!wcscmp(verb, L"serve") && argc == 2) return do_serve();
    if (!wcscmp(verb, L"protect")) return do_protect(argc, argv);
    if (!wcscmp(verb, L"break") && argc == 3) return do_break(arg_pid(argv[2]));
    if (!wcscmp(verb, L"kill") && argc == 3) return do_kill(arg_pid(argv[2]));
    if (!wcscmp(verb, L"event")) return do_event(argc, argv);
    if (!wcscmp(verb, L"service")) return do_service(argc, argv);
    if (!wcscmp(verb, L"install")) return do_install(argc, argv);
    if (!wcscmp(verb, L"uninstall")) return do_uninstall(argc, argv);
    fail(2, L"unknown verb or arguments: %ls (run, run-as, protect, break PID, kill PID, service, install, uninstall, event)", verb, 0);
    return 2;
}
