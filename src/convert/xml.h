/* A hardened expat parser for the XML inside uploaded containers (office documents,
 * workbooks, [Content_Types].xml): entity declarations are refused outright (they are how
 * entity-expansion, "billion laughs", attacks start; none of these formats uses them),
 * parameter entities are never parsed, nothing external is ever loaded, and expat's own
 * amplification guard is a second line. */
#ifndef CB_CONVERT_XML_H
#define CB_CONVERT_XML_H
#include <expat.h>

/* The first member of a parser's user data: its state starts with it, so that the entity
 * handler finds the parser and says it refused. */
struct convert_xml {
  XML_Parser p;
  int refused; /* an entity was declared: the parse stopped */
};

/* Creates head->p, namespace-aware when ns_sep is not 0, with head (the first member of
 * the caller's state) as its user data. 0, or -1 when there is no memory. */
int convert_xml_create(struct convert_xml *head, XML_Char ns_sep);

#endif
