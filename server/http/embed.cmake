# embed.cmake: writes a file's bytes as a C array, so that a page ships inside the binary.
# cmake -DIN=page.html -DOUT=page.c -DNAME=symbol -P embed.cmake defines
# `const unsigned char symbol[]` (NUL-terminated) and `const size_t symbol_len` (without the NUL).
file(READ "${IN}" hex HEX)
string(LENGTH "${hex}" digits)
math(EXPR len "${digits} / 2")
string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," bytes "${hex}")
string(REGEX REPLACE "((0x[0-9a-f][0-9a-f],){16})" "\\1\n" bytes "${bytes}")
get_filename_component(in_name "${IN}" NAME)
file(WRITE "${OUT}.tmp"
  "/* ${NAME}: ${in_name} as bytes, generated at build time by server/http/embed.cmake. */\n"
  "#include <stddef.h>\n\n"
  "#include \"${NAME_HEADER}\"\n\n"
  "const unsigned char ${NAME}[] = {\n${bytes}0x00};\n"
  "const size_t ${NAME}_len = ${len};\n")
file(RENAME "${OUT}.tmp" "${OUT}")
