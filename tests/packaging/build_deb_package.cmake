# build_deb_package.cmake -- the test DebPackage.Build: `cpack` on the already built tree into a
# fresh OUT folder, which then holds exactly one .deb (the fixture nvlab_deb of
# tests/packaging). CPack with the Ninja generator builds nothing (no preinstall target): a file
# the install rules name that is not built yet fails the packaging, as `cmake --install` would.
# Usage: cmake -DCONFIG=<build>/CPackConfig.cmake -DOUT=<folder> -P build_deb_package.cmake
if(NOT CONFIG OR NOT OUT)
  message(FATAL_ERROR "usage: cmake -DCONFIG=CPackConfig.cmake -DOUT=FOLDER -P ${CMAKE_SCRIPT_MODE_FILE}")
endif()
file(REMOVE_RECURSE ${OUT})
file(MAKE_DIRECTORY ${OUT})
get_filename_component(cpack_dir ${CMAKE_COMMAND} DIRECTORY)
execute_process(COMMAND ${cpack_dir}/cpack --config ${CONFIG} -B ${OUT}
  RESULT_VARIABLE status)
if(NOT status EQUAL 0)
  message(FATAL_ERROR "cpack failed (${status})")
endif()
file(GLOB packages ${OUT}/*.deb)
list(LENGTH packages count)
if(NOT count EQUAL 1)
  message(FATAL_ERROR "expected one .deb in ${OUT}, found: ${packages}")
endif()
# The packaging tree is only in the way (a second copy of every file).
file(REMOVE_RECURSE ${OUT}/_CPack_Packages)
message(STATUS "package: ${packages}")
