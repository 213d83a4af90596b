/* SPDX-License-Identifier: MIT */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>

#include "fileio.h"
#include "tests.h"
#include "xml-util.h"

static void check_goal_state(TestReadFn read, const char *rel, const char *incarnation,
                             const char *container_id) {
        _cleanup_xml_doc_ xmlDocPtr doc = NULL;
        _cleanup_free_ char *data = NULL, *inc = NULL, *cid = NULL, *url = NULL, *query = NULL;
        size_t size;

        data = read(rel, &size);
        assert_int_equal(xml_parse_buffer(data, size, &doc), 0);
        assert_int_equal(xml_find_text(xml_doc_root(doc), "Incarnation", &inc), 0);
        assert_string_equal(inc, incarnation);
        assert_int_equal(xml_find_text(xml_doc_root(doc), "Container/ContainerId", &cid), 0);
        assert_string_equal(cid, container_id);
        assert_int_equal(
                xml_find_text(xml_doc_root(doc),
                              "Container/RoleInstanceList/RoleInstance/Configuration/ExtensionsConfig",
                              &url),
                0);
        /* &amp; is unescaped: the URL is used verbatim (protocol §1.4). */
        assert_true(asprintf(&query, "?comp=config&type=extensionsConfig&incarnation=%s", incarnation) > 0);
        assert_non_null(strstr(url, query));
        assert_int_equal(xml_find_text(xml_doc_root(doc), "Container/Nope", &url), -ENOENT);
}

static void test_goal_state(void **state) {
        check_goal_state(test_data_read, "wire/goal-state.xml", "3", "4d0f1c7e-2b8a-4c3d-9e6f-a1b2c3d4e5f6");
}

static void interop_goal_state(void **state) {
        check_goal_state(fixture_read, "wire/goal_state.xml", "1", "c6d5526c-5ac2-4200-b6e2-56f2b70c5ab2");
}

static void test_bom_namespaces_and_attrs(void **state) {
        static const char doc_text[] = "\xEF\xBB\xBF<a:Env xmlns:a=\"urn:x\"><a:Item k=\"v\"> t </a:Item>"
                                       "<a:Item k=\"w\"/></a:Env>";
        _cleanup_xml_doc_ xmlDocPtr doc = NULL;
        unsigned n = 0;
        char *v;

        assert_int_equal(xml_parse_buffer(doc_text, strlen(doc_text), &doc), 0);
        XML_FOREACH_CHILD (i, xml_doc_root(doc), "Item") {
                assert_int_equal(xml_attr(i, "k", &v), 0);
                assert_string_equal(v, n == 0 ? "v" : "w");
                free(v);
                n++;
        }
        assert_int_equal(n, 2);
        assert_int_equal(xml_find_text(xml_doc_root(doc), "Item", &v), 0);
        assert_string_equal(v, "t");
        free(v);
}

static void test_rejects_doctype_and_garbage(void **state) {
        static const char xxe[] =
                "<?xml version=\"1.0\"?><!DOCTYPE r [<!ENTITY x SYSTEM \"file:///etc/passwd\">]>"
                "<r>&x;</r>";
        static const char lol[] =
                "<!DOCTYPE l [<!ENTITY a \"aaaa\"><!ENTITY b \"&a;&a;&a;&a;\">]><l>&b;</l>";
        xmlDocPtr doc = NULL;

        assert_int_equal(xml_parse_buffer(xxe, strlen(xxe), &doc), -EBADMSG);
        assert_int_equal(xml_parse_buffer(lol, strlen(lol), &doc), -EBADMSG);
        assert_int_equal(xml_parse_buffer("<a><b></a>", 10, &doc), -EBADMSG);
        assert_int_equal(xml_parse_buffer("", 0, &doc), -EBADMSG);
        assert_null(doc);
}

static bool libxml2_mapped(void) {
        _cleanup_free_ char *maps = NULL;
        _cleanup_close_ int fd = open("/proc/self/maps", O_RDONLY | O_CLOEXEC);

        assert_true(fd >= 0);
        assert_int_equal(read_full_fd(fd, 1024 * 1024, &maps, NULL), 0);
        return strstr(maps, "/" XML_SONAME) != NULL;
}

/* libxml2 (and the ICU it pulls in) is loaded by the first parse and unloaded by xml_unload_if_unused() once no
 * document is alive (xml-util.h): the idle daemon does not carry it. */
static void test_loaded_while_needed(void **state) {
        xmlDocPtr a = NULL, b = NULL;
        char *v;

        xml_unload_if_unused(); /* the other tests' documents are freed */
        assert_false(libxml2_mapped());
        assert_int_equal(xml_parse_buffer("<r><x>1</x></r>", 15, &a), 0);
        assert_true(libxml2_mapped());
        assert_int_equal(xml_parse_buffer("<r><x>2</x></r>", 15, &b), 0);
        xml_doc_free(a);
        xml_unload_if_unused(); /* b is alive */
        assert_true(libxml2_mapped());
        assert_int_equal(xml_find_text(xml_doc_root(b), "x", &v), 0);
        assert_string_equal(v, "2");
        free(v);
        xml_doc_free(b);
        assert_true(libxml2_mapped()); /* until asked */
        xml_unload_if_unused();
        assert_false(libxml2_mapped());
        /* a rejected document is not counted as alive; the next load works as the first */
        assert_int_equal(xml_parse_buffer("<a><b></a>", 10, &a), -EBADMSG);
        xml_unload_if_unused();
        assert_false(libxml2_mapped());
        assert_int_equal(xml_parse_buffer("<r a=\"3\"/>", 10, &a), 0);
        assert_int_equal(xml_attr(xml_doc_root(a), "a", &v), 0);
        assert_string_equal(v, "3");
        free(v);
        xml_doc_free(a);
        xml_unload_if_unused();
        assert_false(libxml2_mapped());
}

int main(int argc, char *argv[]) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_goal_state),
                cmocka_unit_test(test_bom_namespaces_and_attrs),
                cmocka_unit_test(test_rejects_doctype_and_garbage),
                cmocka_unit_test(test_loaded_while_needed),
        };
        const struct CMUnitTest interop[] = {
                cmocka_unit_test(interop_goal_state),
        };

        if (test_interop_mode(argc, argv))
                return cmocka_run_group_tests(interop, NULL, NULL);
        return cmocka_run_group_tests(tests, NULL, NULL);
}
