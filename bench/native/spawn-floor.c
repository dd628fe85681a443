/*
 * The machine's floor for a mass restart (bench/restart-latency.js, scale mode): starts M
 * `sleep 1000` as fast as this machine can — vfork, setsid, exec, from one thread per CPU, nothing
 * else: no supervision, no bookkeeping — and prints, as one JSON line, how long it took until every
 * exec had been taken and until every one ran sleep. Then it kills and reaps them, and exits.
 *   spawn-floor M THREADS SLEEP-PATH
 * What a supervisor cannot beat on this machine at this moment (the same kernel, the same other
 * processes); compiled and run by the benchmark when a C compiler is there.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "start-sleep.h"

static int count, per_thread;
static pid_t *pids;
static const char *sleep_path;

static double now_ms(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1e3 + t.tv_nsec / 1e6;
}

static void *starter(void *arg) {
    long first = (long)arg * per_thread;
    for (long i = first; i < first + per_thread && i < count; i++) pids[i] = start_sleep(sleep_path);
    return NULL;
}

static int runs_sleep(pid_t pid) {
    char path[64], comm[32] = "";
    snprintf(path, sizeof path, "/proc/%ld/comm", (long)pid);
    FILE *f = fopen(path, "r");
    if (!f) return 0;
    int ok = fgets(comm, sizeof comm, f) && strcmp(comm, "sleep\n") == 0;
    fclose(f);
    return ok;
}

int main(int argc, char **argv) {
    if (argc != 4) {
        fprintf(stderr, "usage: spawn-floor M THREADS SLEEP-PATH\n");
        return 2;
    }
    count = atoi(argv[1]);
    int threads = atoi(argv[2]);
    sleep_path = argv[3];
    if (count < 1 || threads < 1 || threads > 16) return 2;
    per_thread = (count + threads - 1) / threads;
    pids = calloc((size_t)count, sizeof *pids);
    if (!pids) return 1;
    pthread_t t[16];
    double t0 = now_ms();
    for (long k = 0; k < threads; k++) pthread_create(&t[k], NULL, starter, (void *)k);
    for (int k = 0; k < threads; k++) pthread_join(t[k], NULL);
    double started = now_ms() - t0;
    /* every exec taken; now until each runs sleep, looked at once a millisecond */
    int next = 0;
    while (next < count) {
        while (next < count && (pids[next] <= 0 || runs_sleep(pids[next]))) next++;
        if (next < count) usleep(1000);
    }
    double running = now_ms() - t0;
    int failed = 0;
    for (int i = 0; i < count; i++) failed += pids[i] <= 0;
    printf("{\"programs\":%d,\"threads\":%d,\"execsTakenMs\":%.3f,\"allRunningMs\":%.3f,\"failed\":%d}\n", count, threads, started, running, failed);
    fflush(stdout);
    for (int i = 0; i < count; i++)
        if (pids[i] > 0) kill(pids[i], SIGKILL);
    for (int i = 0; i < count; i++)
        if (pids[i] > 0) waitpid(pids[i], NULL, 0);
    return 0;
}
