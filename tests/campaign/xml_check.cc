// xml_check.cc -- ParseXml with libxml2.

#include "xml_check.h"

#include <libxml/parser.h>
#include <libxml/tree.h>

namespace nvlab::testing {
namespace {

std::string Utf8(const xmlChar* text) {
  return text == nullptr ? "" : reinterpret_cast<const char*>(text);
}

void Collect(xmlNode* node, std::vector<XmlElement>* out) {
  for (; node != nullptr; node = node->next) {
    if (node->type != XML_ELEMENT_NODE) continue;
    XmlElement element;
    element.name = Utf8(node->name);
    for (xmlAttr* attr = node->properties; attr != nullptr; attr = attr->next) {
      xmlChar* value = xmlNodeListGetString(node->doc, attr->children, 1);
      element.attributes[Utf8(attr->name)] = Utf8(value);
      xmlFree(value);
    }
    xmlChar* text = xmlNodeGetContent(node);
    element.text = Utf8(text);
    xmlFree(text);
    out->push_back(std::move(element));
    Collect(node->children, out);
  }
}

}  // namespace

bool ParseXml(const std::string& xml, std::vector<XmlElement>* elements, std::string* error) {
  xmlDoc* doc = xmlReadMemory(xml.data(), static_cast<int>(xml.size()), "report.xml", nullptr,
                              XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
  if (doc == nullptr) {
    const xmlError* last = xmlGetLastError();
    *error = last != nullptr && last->message != nullptr ? last->message : "not well-formed";
    return false;
  }
  elements->clear();
  Collect(xmlDocGetRootElement(doc), elements);
  xmlFreeDoc(doc);
  return true;
}

}  // namespace nvlab::testing
