/* actions.c -- the state changes of the demo shop: add, set, inc, dec,
 * login, logout. Each validates everything before it changes anything,
 * so that a refused action leaves the session as it was; each may run
 * again on fresh state after a commit conflict, so none has effects
 * outside the session (shop_acted has those, once). */
#include <stdio.h>
#include <string.h>

#include "shop.h"
#include "throttle.h"

static const char no_session[] = "No session could be made; please try again.";
static const char cart_full[] = "A cart holds at most 64 different dishes.";

static const struct shop_form *form_of(const struct nori_req *r)
{
    return r->form;
}

static int item_known(const struct nori_req *r)
{
    const struct shop *shop = r->data;
    struct item it;

    return catalog_item(&shop->catalog, form_of(r)->id, &it) == 0;
}

static struct nori_result act_add(struct nori_req *r)
{
    const struct shop_form *f = form_of(r);
    uint32_t qty = f->qty == SHOP_QTY_ABSENT ? 1 : f->qty;
    struct shop_state *s;

    if (f->id == 0)
        return nori_fail(400, "Which dish? The form has no id.");
    if (qty < 1 || qty > SHOP_QTY_MAX)
        return nori_fail(400, "Add between 1 and 99 of a dish.");
    if (!item_known(r))
        return nori_fail(404, "Nothing on the menu has that number.");
    if ((s = nori_state_write(r)) == NULL)
        return nori_fail(503, no_session);
    if (cart_add(s, f->id, qty) < 0)
        return nori_fail(409, cart_full);
    return nori_redirect("Cart", NULL);
}

static struct nori_result act_set(struct nori_req *r)
{
    const struct shop_form *f = form_of(r);
    struct shop_state *s;

    if (f->id == 0 || f->qty == SHOP_QTY_ABSENT)
        return nori_fail(400, "Setting a quantity needs an id and a qty.");
    if (f->qty > SHOP_QTY_MAX)
        return nori_fail(400, "A quantity is between 0 and 99.");
    if (!item_known(r))
        return nori_fail(404, "Nothing on the menu has that number.");
    /* Removing from a cart that does not exist is already done. */
    if (f->qty == 0 && nori_state(r) == NULL)
        return nori_redirect("Cart", NULL);
    if ((s = nori_state_write(r)) == NULL)
        return nori_fail(503, no_session);
    if (cart_set(s, f->id, f->qty) < 0)
        return nori_fail(409, cart_full);
    return nori_redirect("Cart", NULL);
}

static struct nori_result act_count(struct nori_req *r, int step)
{
    struct shop_state *s = nori_state_write(r);

    if (s == NULL)
        return nori_fail(503, no_session);
    /* Saturate rather than wrap: the counter is a toy, not a bug farm. */
    if ((step > 0 && s->counter < INT64_MAX) || (step < 0 && s->counter > INT64_MIN))
        s->counter += step;
    return nori_redirect("Counter", NULL);
}

/* The failed-login counts live in RUNDIR/throttle, shared by every
 * worker; mapped at the first login a process sees. Without them logins
 * are refused rather than left unthrottled. */
static int throttle_ready(const struct nori_req *r)
{
    const struct shop *shop = r->data;
    struct throttle_policy p = {(unsigned)shop->cfg.login_failures,
                                (unsigned)shop->cfg.login_lockout};
    char path[4096];
    enum throttle_err err;

    if (throttle_is_open())
        return 1;
    if (snprintf(path, sizeof path, "%s/throttle", shop->rundir) >= (int)sizeof path)
        return 0;
    if ((err = throttle_open(path, &p)) != THROTTLE_OK) {
        nori_log(r, "nori: logins refused: %s: %s", path, throttle_strerror(err));
        return 0;
    }
    return 1;
}

static const char login_failed[] = "Unknown user or wrong password.";

/* nori_login gives the session fresh keys, so that a key known before
 * it (a fixation attempt) is worth nothing after. A failed login changes
 * nothing here; shop_acted counts it. A name or address with too many
 * recent failures is not even checked: the password hash is not
 * computed. */
static struct nori_result act_login(struct nori_req *r)
{
    const struct shop *shop = r->data;
    const struct shop_form *f = form_of(r);
    struct nori_result res;

    if (f->user[0] == '\0' || f->password[0] == '\0')
        return nori_fail(400, "Logging in needs a user and a password.");
    if (!throttle_ready(r))
        return nori_fail(503, "Logging in is not possible right now; please try again later.");
    unsigned wait = throttle_wait(f->user, nori_remote_addr(r), r->now);
    if (wait > 0) {
        res = nori_fail(429, "Too many failed logins for this user or from this "
                             "address; please wait a while and try again.");
        res.retry_after = wait;
        return res;
    }
    if (!users_check(&shop->users, f->user, f->password))
        return nori_show("Login", login_failed);
    if (nori_login(r, f->user) < 0)
        return nori_fail(503, no_session);
    return nori_redirect(shop_pages[0].name, NULL);
}

struct nori_result shop_act(struct nori_req *r)
{
    if (strcmp(r->act, "add") == 0)
        return act_add(r);
    if (strcmp(r->act, "set") == 0)
        return act_set(r);
    if (strcmp(r->act, "inc") == 0)
        return act_count(r, 1);
    if (strcmp(r->act, "dec") == 0)
        return act_count(r, -1);
    if (strcmp(r->act, "login") == 0)
        return act_login(r);
    if (strcmp(r->act, "logout") == 0) {
        nori_logout(r);
        return nori_redirect(shop_pages[0].name, NULL);
    }
    return nori_fail(400, "There is no such action.");
}

/* What a login attempt leaves outside the session: the shared failure
 * counts and the error log. The user name passed the form grammar (no
 * control characters), so it cannot forge a log line; the password is
 * never logged. */
void shop_acted(struct nori_req *r, const struct nori_result *res)
{
    const char *user = form_of(r)->user, *addr = nori_remote_addr(r);
    unsigned wait;

    if (strcmp(r->act, "login") != 0)
        return;
    if (res->outcome == NORI_SHOW) {
        wait = throttle_fail(user, addr, r->now);
        nori_log(r, "nori: login failed for user '%s' from %s%s", user,
                 addr[0] ? addr : "(no address)", wait ? "; further attempts wait" : "");
    } else if (res->outcome == NORI_FAIL && res->status == 429) {
        nori_log(r, "nori: login refused for user '%s' from %s: too many "
                 "failures, %u s to wait", user, addr[0] ? addr : "(no address)",
                 res->retry_after);
    } else if (res->outcome == NORI_REDIRECT) {
        throttle_forget_user(user);
    }
}
