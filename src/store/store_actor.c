/* store_actor: the system table `_actors` (store.h "Actors"): one document per actor instance
 * whose state was ever stored, {name, actorId, state: <the state as JSON text>}, with the index
 * `by_actor` on (name, actorId) through which an instance's document is found. An ordinary
 * document table of the catalog, so that a query reading an actor's state through it is
 * re-run when a method changes that state; only the actor runtime writes it. */
#include "store/store_int.h"

#include "base/banned.h"

int st_actor_ensure(struct store *s, struct buf *err)
{
    struct st_table *tb = st_table_find(s, STORE_ACTOR_TABLE);
    if (tb && st_index_find(tb, STORE_ACTOR_INDEX))
        return 0;
    json_t *decl = json_pack("{s:s, s:[s,s]}", "name", STORE_ACTOR_INDEX, "fields", "name",
                             "actorId");
    int r = -1;
    if (st_exec(s, "BEGIN IMMEDIATE", err) < 0)
        goto out;
    if ((!tb && st_table_create(s, STORE_ACTOR_TABLE, &tb, err) < 0) ||
        st_index_create(s, tb, decl, err) < 0 || st_exec(s, "COMMIT", err) < 0) {
        sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
        goto out;
    }
    r = 0;
out:
    json_decref(decl);
    struct buf tmp = BUF_INIT(4096);
    if (st_catalog_load(s, r == 0 ? err : &tmp) < 0)
        r = -1;
    buf_release(&tmp);
    return r;
}
