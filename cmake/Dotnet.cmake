# The .NET side of the build: where the SDK is, the nethost library the provider links, and `dotnet publish`.

find_program(DOTNET_EXECUTABLE dotnet REQUIRED)

# The .NET root is where the `dotnet` executable really lives (/usr/bin/dotnet is usually a link into it).
# It is also the default 'dotnet_root' written into the module manifest.
file(REAL_PATH ${DOTNET_EXECUTABLE} _dotnet_real)
get_filename_component(_dotnet_dir ${_dotnet_real} DIRECTORY)
set(DOTNET_ROOT_DIR ${_dotnet_dir} CACHE PATH "The .NET installation the build uses and the manifest names")

# nethost ships as a static library in the AppHost pack of the SDK; take the newest one.
file(GLOB _nethost_dirs ${DOTNET_ROOT_DIR}/packs/Microsoft.NETCore.App.Host.linux-x64/*/runtimes/linux-x64/native)
list(SORT _nethost_dirs COMPARE NATURAL ORDER DESCENDING)
find_path(NETHOST_INCLUDE_DIR nethost.h HINTS ${_nethost_dirs} NO_DEFAULT_PATH REQUIRED)
find_library(NETHOST_STATIC_LIBRARY NAMES libnethost.a HINTS ${NETHOST_INCLUDE_DIR} NO_DEFAULT_PATH REQUIRED)
message(STATUS "nethost: ${NETHOST_STATIC_LIBRARY}")

option(NETISOLATOR_READY_TO_RUN "Precompile managed assemblies (ReadyToRun) to cut the runtime's start-up" ON)

# dotnet_publish(<target> PROJECT <csproj> OUTPUT <dir> [DEPENDS <targets>])
# Publishes a framework-dependent managed project into OUTPUT whenever a managed source changes.
function(dotnet_publish target)
  cmake_parse_arguments(ARG "" "PROJECT;OUTPUT" "DEPENDS" ${ARGN})
  file(GLOB_RECURSE _sources CONFIGURE_DEPENDS
       ${PROJECT_SOURCE_DIR}/managed/*.cs ${PROJECT_SOURCE_DIR}/managed/*.csproj
       ${PROJECT_SOURCE_DIR}/tests/TestIsolator/*.cs ${PROJECT_SOURCE_DIR}/tests/TestIsolator/*.csproj
       ${PROJECT_SOURCE_DIR}/proto/*.proto ${PROJECT_SOURCE_DIR}/Directory.*.props)
  set(_flags --nologo -v quiet -c Release)
  if(NETISOLATOR_READY_TO_RUN)
    list(APPEND _flags -r linux-x64 --self-contained false -p:PublishReadyToRun=true)
  endif()
  set(_stamp ${CMAKE_CURRENT_BINARY_DIR}/${target}.published)
  add_custom_command(
    OUTPUT ${_stamp}
    COMMAND ${DOTNET_EXECUTABLE} publish ${ARG_PROJECT} ${_flags} -o ${ARG_OUTPUT}
    COMMAND ${CMAKE_COMMAND} -E touch ${_stamp}
    DEPENDS ${_sources}
    COMMENT "dotnet publish ${ARG_PROJECT} -> ${ARG_OUTPUT}"
    VERBATIM)
  add_custom_target(${target} ALL DEPENDS ${_stamp})
  if(ARG_DEPENDS)
    add_dependencies(${target} ${ARG_DEPENDS})
  endif()
endfunction()

# dotnet_publish_native(<target> PROJECT <csproj> NAME <executable> [DEPENDS <targets>])
# Publishes a managed executable ahead of time (NativeAOT: one self-contained native file, no runtime to load,
# a few milliseconds to start) and puts it at build/bin/<executable>. The helpers the agent runs per container
# and the CNI plugins are built this way: they start once per call, so start-up is their whole cost.
function(dotnet_publish_native target)
  cmake_parse_arguments(ARG "" "PROJECT;NAME" "DEPENDS" ${ARGN})
  get_filename_component(_project_dir ${ARG_PROJECT} DIRECTORY)
  file(GLOB_RECURSE _sources CONFIGURE_DEPENDS
       ${PROJECT_SOURCE_DIR}/managed/*.cs ${PROJECT_SOURCE_DIR}/managed/*.csproj
       ${_project_dir}/*.c ${PROJECT_SOURCE_DIR}/Directory.*.props)
  set(_staging ${CMAKE_CURRENT_BINARY_DIR}/native-publish/${target})
  set(_output ${CMAKE_RUNTIME_OUTPUT_DIRECTORY}/${ARG_NAME})
  add_custom_command(
    OUTPUT ${_output}
    # Optimised for size: start-up is mostly the kernel mapping and faulting in the file, and the smaller code
    # started about 1 ms (7%) sooner here, which is more than its own run time loses.
    COMMAND ${DOTNET_EXECUTABLE} publish ${ARG_PROJECT} --nologo -v quiet -c Release -r linux-x64
            -p:PublishAot=true -p:OptimizationPreference=Size -o ${_staging}
    COMMAND ${CMAKE_COMMAND} -E copy ${_staging}/${ARG_NAME} ${_output}
    DEPENDS ${_sources}
    COMMENT "dotnet publish (NativeAOT) ${ARG_PROJECT} -> ${_output}"
    VERBATIM)
  add_custom_target(${target} ALL DEPENDS ${_output})
  if(ARG_DEPENDS)
    add_dependencies(${target} ${ARG_DEPENDS})
  endif()
endfunction()
