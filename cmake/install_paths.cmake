# Absolute install directories for a prefix known only at install time (`cmake --install
# --prefix`, CPack), the way GNUInstallDirs computes them at configure time: a relative directory
# goes under the prefix, except etc, which is /etc for the / and /usr prefixes and /etc/opt/X for
# /opt/X. Included at configure time and from install(CODE); script mode, no project needed.
#
# bw_install_dir(OUT DIR PREFIX): OUT = DIR made absolute for PREFIX.
# bw_install_sysconfdir(OUT DIR PREFIX): the same for the configuration directory.
function(bw_install_dir out dir prefix)
  if(IS_ABSOLUTE "${dir}")
    set(${out} "${dir}" PARENT_SCOPE)
  elseif(prefix STREQUAL "/")
    set(${out} "/${dir}" PARENT_SCOPE)
  else()
    set(${out} "${prefix}/${dir}" PARENT_SCOPE)
  endif()
endfunction()

function(bw_install_sysconfdir out dir prefix)
  if(dir STREQUAL "etc" AND (prefix STREQUAL "/" OR prefix STREQUAL "/usr"))
    set(${out} "/etc" PARENT_SCOPE)
  elseif(dir STREQUAL "etc" AND prefix MATCHES "^/opt/")
    set(${out} "/etc${prefix}" PARENT_SCOPE)
  else()
    bw_install_dir(abs "${dir}" "${prefix}")
    set(${out} "${abs}" PARENT_SCOPE)
  endif()
endfunction()

# bw_configure_unit(TEMPLATE OUTPUT PREFIX): the unit with the programs' and docs' paths for
# PREFIX. Reads BW_REL_SBINDIR, BW_REL_BINDIR, BW_REL_DOCDIR, BW_SERVICE_TYPE, BW_NOTIFY_ONLY.
function(bw_configure_unit template output prefix)
  bw_install_dir(BW_SBINDIR "${BW_REL_SBINDIR}" "${prefix}")
  bw_install_dir(BW_BINDIR "${BW_REL_BINDIR}" "${prefix}")
  bw_install_dir(BW_DOCDIR "${BW_REL_DOCDIR}" "${prefix}")
  configure_file("${template}" "${output}" @ONLY)
endfunction()
