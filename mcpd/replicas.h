/*
 * replicas: N (issue 17): one manifest entry, N processes. Each replica is a
 * struct server of its own named NAME#K (its conf.replica is K, conf.replicas
 * N), supervised like any other; an unreplicated server keeps its name and
 * has replica 0. This file names them, finds a group's replicas, and picks
 * the replica a new client goes to.
 */
#ifndef MCPD_REPLICAS_H
#define MCPD_REPLICAS_H

#include <stdbool.h>
#include <stddef.h>

#include "manifest.h"

struct daemon;
struct server;

/* Length of the group's name (the manifest's) at the start of a server's name: "web#2" -> 3. */
size_t replica_group_len(const char *server_name);

/* s's manifest entry's name ("web" for web#2, the name itself unreplicated), written into buf. */
const char *replica_entry_name(const struct server *s, char *buf, size_t size);

/* Is s the server named name, or one of the replicas of the manifest entry named name? */
bool replica_in_group(const struct server *s, const char *name);

/* Is s a replica whose entry has another replica running (so that the entry is up, degraded)? */
bool replica_covered(const struct server *s);

/* Is s an unreplicated server or the first replica of its group? (One aggregate backend per group.) */
bool replica_first(const struct server *s);

/* The configuration of replica k (0: unreplicated) of conf: a shallow copy naming it NAME#K; free *ret_name. */
struct server_conf replica_conf(const struct server_conf *conf, unsigned k, char **ret_name);

/*
 * Add the servers of one manifest entry (1, or conf->replicas replicas),
 * after the group's existing replicas, starting at replica first_k (1 for a
 * new entry). Each added server is passed to added (may be NULL).
 */
void replicas_add(struct daemon *d, const struct server_conf *conf, unsigned first_k,
		  void (*added)(struct daemon *d, struct server *s));

/* A reload: give s its manifest entry's conf (keeping its replica name and index). */
void replica_set_conf(struct server *s, const struct server_conf *conf);

/*
 * A reload between 1 and N replicas: s becomes replica k (0: unreplicated) of
 * an entry of n, keeping its process, its sessions and all that is its own;
 * its processes move to a cgroup of its new name. Its configuration is
 * otherwise unchanged.
 */
void replica_rename(struct server *s, unsigned k, unsigned n);

/* Is s's configuration that of the entry conf (its own name and index aside), needing no restart? */
bool replica_conf_equal(const struct server *s, const struct server_conf *conf);

/*
 * The servers name addresses: the one so named, or every replica of the
 * manifest entry so named. malloc'd (NULL-terminated), *ret_n of them; NULL when none.
 */
struct server **replicas_list(const struct daemon *d, const char *name, size_t *ret_n);

/* How many replicas the entry named name (a group or NAME#K) has now: 0 for none. */
unsigned replicas_count(const struct daemon *d, const char *name);

/*
 * The server a new client of name goes to: the server so named, or among
 * the entry's replicas the running one with the fewest relay sessions (ties
 * round robin); with none running, the first starting one, else replica 1.
 * NULL when there is no such server. except: a replica not to pick (NULL: none).
 */
struct server *replicas_pick(const struct daemon *d, const char *name, const struct server *except);

/*
 * A reload changed a replicated entry to conf: restart its replicas in list
 * one at a time, each with conf when its turn comes, the next once the one
 * before runs again (a rolling restart). A replica that does not run again
 * (backoff, failed, exited, or not running by its stop and start-up
 * deadlines) stops the rolling restart: the replicas not restarted yet keep
 * their configuration and their process, and say so in their status.
 */
void replicas_rolling_restart(struct daemon *d, const struct server_conf *conf, struct server **list, size_t n);

/* The entry named entry is removed, or has one process now: its rolling restart (if any) ends. */
void replicas_rollout_forget(struct daemon *d, const char *entry);

/* s changed state (daemon_state_changed): once running, the next replica of a rolling restart goes. */
void replicas_state_changed(struct server *s);

#endif
