/* fields.c -- the shop's URL and form grammars: the fields nori parses
 * for it (besides its own pg, act, _s and _k), in the order canonical
 * URLs give them. The tests and fuzzers parse with these very tables. */
#include "shop.h"

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

static const struct nori_field query_fields[] = {
    NORI_FIELD_UINT(struct shop_query, id, "id", 1, INT32_MAX, 0),
    NORI_FIELD_TEXT(struct shop_query, q, "q", 1, SHOP_Q_MAX),
    NORI_FIELD_UINT(struct shop_query, page, "page", 1, SHOP_PAGE_MAX, 1),
};

static const struct nori_field form_fields[] = {
    NORI_FIELD_UINT(struct shop_form, id, "id", 1, INT32_MAX, 0),
    NORI_FIELD_UINT(struct shop_form, qty, "qty", 0, SHOP_QTY_MAX, SHOP_QTY_ABSENT),
    NORI_FIELD_TEXT(struct shop_form, user, "user", 1, NORI_USER_MAX),
    NORI_FIELD_TEXT(struct shop_form, password, "password", 1, SHOP_PASSWORD_MAX),
};

const struct nori_grammar shop_query_grammar = {
    query_fields, COUNT(query_fields), sizeof(struct shop_query)};
const struct nori_grammar shop_form_grammar = {
    form_fields, COUNT(form_fields), sizeof(struct shop_form)};
