# Real Redis servers for the integration tests (include() this from
# tests/integration/CMakeLists.txt).
#
# ctest starts every kind of server once (test `servers.start`, a FIXTURES_SETUP), runs every
# test that requires the `redis_servers` fixture, then stops them (`servers.stop`, a
# FIXTURES_CLEANUP). `ctest -R <one test>` pulls in start and stop automatically.
#
# The tests find the servers through DLOCK_SERVERS_ENV, a file of KEY=VALUE lines written by
# scripts/redis-harness (see its header for the keys). Tests may run in parallel (no
# RESOURCE_LOCK): a test that breaks a shared server (kill, pause, failover) must restore it
# or use servers nobody else uses.
#
# If ctest is interrupted, servers.stop never runs; the harness's watchdog then stops the
# servers once the process that ran `start` (ctest itself: it runs the script directly, so
# ctest is the script's parent) has exited.

set(DLOCK_SERVERS_DIR "${CMAKE_BINARY_DIR}/servers" CACHE PATH
    "Where the integration tests' redis-server processes keep their data, logs and servers.env")

set(DLOCK_REDIS_HARNESS "${PROJECT_SOURCE_DIR}/scripts/redis-harness")

add_test(NAME servers.start
         COMMAND "${DLOCK_REDIS_HARNESS}" start "${DLOCK_SERVERS_DIR}" all)
set_tests_properties(servers.start PROPERTIES
    FIXTURES_SETUP redis_servers
    LABELS integration
    TIMEOUT 120)

add_test(NAME servers.stop
         COMMAND "${DLOCK_REDIS_HARNESS}" stop "${DLOCK_SERVERS_DIR}")
set_tests_properties(servers.stop PROPERTIES
    FIXTURES_CLEANUP redis_servers
    LABELS integration
    TIMEOUT 60)

# dlock_integration_test(<executable target>): run it against the shared servers.
function(dlock_integration_test target)
    add_test(NAME ${target} COMMAND ${target})
    set_tests_properties(${target} PROPERTIES
        FIXTURES_REQUIRED redis_servers
        LABELS integration
        TIMEOUT 600
        ENVIRONMENT
            "DLOCK_SERVERS_ENV=${DLOCK_SERVERS_DIR}/servers.env;DLOCK_SERVERS_DIR=${DLOCK_SERVERS_DIR};DLOCK_SOURCE_DIR=${PROJECT_SOURCE_DIR}")
endfunction()
