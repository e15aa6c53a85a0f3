# install_unit.cmake: run by cmake --install — writes cellbatchd.service with the install's own
# bindir in place of the /usr/local/bin the source unit names, so --prefix and DESTDIR both work.
file(READ "${CB_UNIT_SRC}" unit)
string(REPLACE "/usr/local/bin/" "${CMAKE_INSTALL_PREFIX}/${CB_BINDIR}/" unit "${unit}")
set(dest "$ENV{DESTDIR}${CMAKE_INSTALL_PREFIX}/${CB_UNIT_DIR}")
file(MAKE_DIRECTORY "${dest}")
file(WRITE "${dest}/cellbatchd.service" "${unit}")
message(STATUS "Installing: ${dest}/cellbatchd.service")
