// xml_check.h -- libxml2 as the judge of the JUnit reports: well-formed, and what it reads.

#ifndef NVLAB_TESTS_CAMPAIGN_XML_CHECK_H_
#define NVLAB_TESTS_CAMPAIGN_XML_CHECK_H_

#include <map>
#include <string>
#include <vector>

namespace nvlab::testing {

// XmlElement is one element as libxml2 read it: its attributes and its text content.
struct XmlElement {
  std::string name;
  std::map<std::string, std::string> attributes;
  std::string text;
};

// ParseXml reads a document with libxml2 (no network, no entities from outside); false with
// *error set when it is not well-formed. *elements lists every element in document order.
bool ParseXml(const std::string& xml, std::vector<XmlElement>* elements, std::string* error);

}  // namespace nvlab::testing

#endif  // NVLAB_TESTS_CAMPAIGN_XML_CHECK_H_
