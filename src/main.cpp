#include "aslseg/cli/app.h"

int main(int argc, char** argv) { return aslseg::cli::run(argc, argv); }
