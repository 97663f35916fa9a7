# Turns sql/schema.sql and sql/migrations/NNNN-*.sql into a C file, so the binaries carry their
# schema and never read the source tree at run time.
#   cmake -DSCHEMA=... -DMIGRATIONS="a;b" -DOUT=... -P embed_sql.cmake
# Migration NNNN brings a database from version NNNN-1 to NNNN; numbering starts at 2 (version 1
# is the first schema); a gap is a step that changes nothing. The current schema version is the
# highest number.

# A file as a C array initialiser of its bytes plus a terminating NUL: a string literal this long
# would exceed what C guarantees (-Woverlength-strings).
function(c_string_literal path outvar)
  file(READ "${path}" hex HEX)
  string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," bytes "${hex}")
  string(REPEAT "0x[0-9a-f][0-9a-f]," 16 row) # CMake's regex has no {n}
  string(REGEX REPLACE "(${row})" "\\1\n    " bytes "${bytes}")
  set(${outvar} "{\n    ${bytes}0}" PARENT_SCOPE)
endfunction()

c_string_literal("${SCHEMA}" schema_lit)
set(version 1)
set(entries "")
set(table "")
set(none "")
list(SORT MIGRATIONS)
foreach(m IN LISTS MIGRATIONS)
  get_filename_component(name "${m}" NAME)
  if(NOT name MATCHES "^([0-9][0-9][0-9][0-9])-[a-z0-9_-]+\\.sql$")
    message(FATAL_ERROR "${m}: migrations are named NNNN-words.sql")
  endif()
  math(EXPR n "${CMAKE_MATCH_1}")
  math(EXPR expected "${version} + 1")
  if(n LESS expected)
    message(FATAL_ERROR "${m}: expected migration number ${expected}")
  endif()
  # A number not taken yet (a migration written at the same time under it) is a step that
  # changes nothing, so that each migration keeps the number it was written with.
  while(expected LESS n)
    set(none "static const char migration_none[] = \"\";\n")
    string(APPEND table "  {${expected}, \"(no migration)\", migration_none},\n")
    math(EXPR expected "${expected} + 1")
  endwhile()
  set(version ${n})
  c_string_literal("${m}" lit)
  string(APPEND entries "static const char migration_${n}[] = ${lit};\n")
  string(APPEND table "  {${n}, \"${name}\", migration_${n}},\n")
endforeach()

file(WRITE "${OUT}.tmp" "/* Generated from sql/ by cmake/embed_sql.cmake; do not edit. */
#include <stddef.h>

#include \"bw_sql.h\"

const int bw_sql_version = ${version};

const char bw_sql_schema[] = ${schema_lit};

${none}
${entries}
const struct bw_sql_migration bw_sql_migrations[] = {
${table}  {0, NULL, NULL},
};
")
file(COPY_FILE "${OUT}.tmp" "${OUT}" ONLY_IF_DIFFERENT)
file(REMOVE "${OUT}.tmp")
