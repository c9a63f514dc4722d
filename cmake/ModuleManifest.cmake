# The Mesos --modules manifest. The repository's mesos-module.json is written for the default prefix
# (/usr/local) and the usual .NET root; this rewrites those two paths for a build tree or an install prefix.
set(_NETISOLATOR_MANIFEST_TEMPLATE ${CMAKE_CURRENT_LIST_DIR}/../mesos-module.json)

function(write_module_manifest output library_dir dotnet_root)
  file(READ ${_NETISOLATOR_MANIFEST_TEMPLATE} _manifest)
  string(REPLACE "/usr/local/lib/netisolator" "${library_dir}" _manifest "${_manifest}")
  string(REPLACE "\"/usr/share/dotnet\"" "\"${dotnet_root}\"" _manifest "${_manifest}")
  file(WRITE ${output} "${_manifest}")
endfunction()
