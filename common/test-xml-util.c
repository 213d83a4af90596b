/* SPDX-License-Identifier: MIT */
#include <string.h>

#include "tests.h"
#include "xml-util.h"

static void test_goal_state_fixture(void **state) {
        _cleanup_xml_doc_ xmlDocPtr doc = NULL;
        _cleanup_free_ char *data = NULL, *inc = NULL, *cid = NULL, *url = NULL;
        size_t size;

        data = fixture_read("wire/goal_state.xml", &size);
        assert_int_equal(xml_parse_buffer(data, size, &doc), 0);
        assert_int_equal(xml_find_text(xmlDocGetRootElement(doc), "Incarnation", &inc), 0);
        assert_string_equal(inc, "1");
        assert_int_equal(xml_find_text(xmlDocGetRootElement(doc), "Container/ContainerId", &cid), 0);
        assert_string_equal(cid, "c6d5526c-5ac2-4200-b6e2-56f2b70c5ab2");
        assert_int_equal(xml_find_text(xmlDocGetRootElement(doc),
                                       "Container/RoleInstanceList/RoleInstance/Configuration/ExtensionsConfig",
                                       &url), 0);
        /* &amp; is unescaped: the URL is used verbatim (protocol reference §1.4). */
        assert_non_null(strstr(url, "?comp=config&type=extensionsConfig&incarnation=1"));
        assert_int_equal(xml_find_text(xmlDocGetRootElement(doc), "Container/Nope", &url), -ENOENT);
}

static void test_bom_namespaces_and_attrs(void **state) {
        static const char doc_text[] = "\xEF\xBB\xBF<a:Env xmlns:a=\"urn:x\"><a:Item k=\"v\"> t </a:Item>"
                                       "<a:Item k=\"w\"/></a:Env>";
        _cleanup_xml_doc_ xmlDocPtr doc = NULL;
        unsigned n = 0;
        char *v;

        assert_int_equal(xml_parse_buffer(doc_text, strlen(doc_text), &doc), 0);
        XML_FOREACH_CHILD(i, xmlDocGetRootElement(doc), "Item") {
                assert_int_equal(xml_attr(i, "k", &v), 0);
                assert_string_equal(v, n == 0 ? "v" : "w");
                free(v);
                n++;
        }
        assert_int_equal(n, 2);
        assert_int_equal(xml_find_text(xmlDocGetRootElement(doc), "Item", &v), 0);
        assert_string_equal(v, "t");
        free(v);
}

static void test_rejects_doctype_and_garbage(void **state) {
        static const char xxe[] = "<?xml version=\"1.0\"?><!DOCTYPE r [<!ENTITY x SYSTEM \"file:///etc/passwd\">]>"
                                  "<r>&x;</r>";
        static const char lol[] = "<!DOCTYPE l [<!ENTITY a \"aaaa\"><!ENTITY b \"&a;&a;&a;&a;\">]><l>&b;</l>";
        xmlDocPtr doc = NULL;

        assert_int_equal(xml_parse_buffer(xxe, strlen(xxe), &doc), -EBADMSG);
        assert_int_equal(xml_parse_buffer(lol, strlen(lol), &doc), -EBADMSG);
        assert_int_equal(xml_parse_buffer("<a><b></a>", 10, &doc), -EBADMSG);
        assert_int_equal(xml_parse_buffer("", 0, &doc), -EBADMSG);
        assert_null(doc);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_goal_state_fixture),
                cmocka_unit_test(test_bom_namespaces_and_attrs),
                cmocka_unit_test(test_rejects_doctype_and_garbage),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
