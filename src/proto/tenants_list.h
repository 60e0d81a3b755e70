/* tenants_list: GET /api/admin/tenants made on a thread of its own (net/thread_job.h): reading
 * the tenants' folder and summing each tenant's files took the loop 0.8 s at 20,000 tenants,
 * while every tenant waited. The loop hands the job what only it knows (the open tenants and
 * when each was last used); the thread reads the disk and writes the answer's JSON. Loop thread
 * only (but for the work itself). */
#ifndef VR_PROTO_TENANTS_LIST_H
#define VR_PROTO_TENANTS_LIST_H

#include <stddef.h>

#include "net/server.h"
#include "net/thread_job.h"

struct tenants_list;

/* A listing of the tenants under dir, for c; then tenants_list_open for each open tenant. */
struct tenants_list *tenants_list_new(struct conn *c, const char *dir, size_t n_open,
                                      size_t max_open);
/* An open tenant, last used at last_used_wall_ms (milliseconds since the epoch). */
void tenants_list_open(struct tenants_list *l, const char *name, double last_used_wall_ms);
/* Starts the listing in pool x and answers its connection when done: 200 with the list, 503
 * TooManyListings when the pool is full, 503 ServerShuttingDown when the pool is freed first.
 * l is the job's from here on. */
void tenants_list_start(struct thread_jobs *x, struct tenants_list *l);

#endif
