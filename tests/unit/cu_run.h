/* tests/unit/cu_run.h — the one CUnit driver every unit test's main() ends with: register
 * the suites, run them verbosely, exit 0 only when no assertion, test or suite failed. */
#ifndef KILN_CU_RUN_H
#define KILN_CU_RUN_H

#include <CUnit/Basic.h>
#include <stdio.h>

static inline int
kiln_cu_run(CU_SuiteInfo *suites)
{
    if (CU_initialize_registry() != CUE_SUCCESS)
        return 2;
    if (CU_register_suites(suites) != CUE_SUCCESS) {
        fprintf(stderr, "cunit: %s\n", CU_get_error_msg());
        CU_cleanup_registry();
        return 2;
    }
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    unsigned fails = CU_get_number_of_failures() + CU_get_number_of_tests_failed() +
                     CU_get_number_of_suites_failed();
    CU_cleanup_registry();
    return fails ? 1 : 0;
}

#endif
