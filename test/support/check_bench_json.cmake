# Runs a benchmark and checks its one line of JSON: the command must exit 0
# and the object must hold every key of KEYS with a number.
#   cmake -DCOMMAND="troupe;bench;gateway;--json" -DKEYS="a;b" -P check_bench_json.cmake
execute_process(COMMAND ${COMMAND}
  OUTPUT_VARIABLE out ERROR_VARIABLE err RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "exit status ${rc}\nstdout: ${out}\nstderr: ${err}")
endif()
foreach(key IN LISTS KEYS)
  string(JSON type ERROR_VARIABLE json_err TYPE "${out}" "${key}")
  if(json_err)
    message(FATAL_ERROR "no key '${key}' (${json_err}) in: ${out}")
  endif()
  if(NOT type STREQUAL "NUMBER")
    message(FATAL_ERROR "'${key}' is a ${type}, not a number, in: ${out}")
  endif()
endforeach()
message(STATUS "${out}")
