/* A hardened expat parser: see xml.h. */
#include "convert/xml.h"

#include <stddef.h>

static void XMLCALL on_entity_decl(void *ud, const XML_Char *name, int is_param, const XML_Char *value, int value_len,
                                   const XML_Char *base, const XML_Char *system_id, const XML_Char *public_id,
                                   const XML_Char *notation)
{
  (void)name, (void)is_param, (void)value, (void)value_len, (void)base, (void)system_id, (void)public_id,
    (void)notation;
  struct convert_xml *head = ud;
  head->refused = 1;
  XML_StopParser(head->p, XML_FALSE);
}

int convert_xml_create(struct convert_xml *head, XML_Char ns_sep)
{
  head->refused = 0;
  head->p = ns_sep ? XML_ParserCreateNS(NULL, ns_sep) : XML_ParserCreate(NULL);
  if (!head->p)
    return -1;
  XML_SetUserData(head->p, head);
  XML_SetEntityDeclHandler(head->p, on_entity_decl);
  XML_SetParamEntityParsing(head->p, XML_PARAM_ENTITY_PARSING_NEVER);
  /* expat's amplification guard (on by default since 2.4; these are its defaults): its
   * setters are declared only where the includer defines XML_DTD */
#if defined(XML_DTD) && (XML_MAJOR_VERSION > 2 || (XML_MAJOR_VERSION == 2 && XML_MINOR_VERSION >= 4))
  XML_SetBillionLaughsAttackProtectionMaximumAmplification(head->p, 100.0f);
  XML_SetBillionLaughsAttackProtectionActivationThreshold(head->p, 8ull << 20);
#endif
  return 0;
}
