/* commit-floor.c -- the commit floor: a bare libfcgi responder that makes
 * one durable LMDB commit per request (a counter bumped, fsync on commit)
 * and writes a page of FLOOR_BYTES bytes. No parsing, no session logic:
 * what a request costs when every request commits, the cost lazy
 * sessions avoid. One environment at FLOOR_STORE, shared by every
 * process lighttpd spawns, opened after the spawn as nori does. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <fcgiapp.h>
#include <lmdb.h>

static int commit_one(MDB_env *env, MDB_dbi dbi)
{
    static const char name[] = "hits";
    MDB_val k = {sizeof name - 1, (void *)name}, v;
    unsigned long long n = 0;
    MDB_txn *txn;

    if (mdb_txn_begin(env, NULL, 0, &txn))
        return -1;
    if (mdb_get(txn, dbi, &k, &v) == 0 && v.mv_size == sizeof n)
        memcpy(&n, v.mv_data, sizeof n);
    n++;
    v = (MDB_val){sizeof n, &n};
    if (mdb_put(txn, dbi, &k, &v, 0)) {
        mdb_txn_abort(txn);
        return -1;
    }
    return mdb_txn_commit(txn) ? -1 : 0;
}

int main(void)
{
    const char *path = getenv("FLOOR_STORE");
    const char *bytes = getenv("FLOOR_BYTES");
    size_t n = bytes ? strtoul(bytes, NULL, 10) : 4096;
    char head[160], *page = malloc(n);
    FCGX_Request req;
    MDB_env *env;
    MDB_txn *txn;
    MDB_dbi dbi;

    if (page == NULL || path == NULL)
        return 1;
    memset(page, 'x', n);
    int hl = snprintf(head, sizeof head,
                      "Status: 200 OK\r\nContent-Type: text/html; charset=utf-8\r\n"
                      "Content-Length: %zu\r\n\r\n", n);
    mkdir(path, 0700);
    if (mdb_env_create(&env) || mdb_env_set_mapsize(env, 16 << 20) ||
        mdb_env_open(env, path, 0, 0600) || mdb_txn_begin(env, NULL, 0, &txn) ||
        mdb_dbi_open(txn, NULL, 0, &dbi) || mdb_txn_commit(txn))
        return 1;
    if (FCGX_Init() || FCGX_InitRequest(&req, 0, 0))
        return 1;
    while (FCGX_Accept_r(&req) >= 0) {
        if (commit_one(env, dbi) == 0) {
            FCGX_PutStr(head, hl, req.out);
            FCGX_PutStr(page, (int)n, req.out);
        } else {
            FCGX_PutS("Status: 503 Service Unavailable\r\n\r\n", req.out);
        }
        FCGX_Finish_r(&req);
    }
    mdb_env_close(env);
    return 0;
}
