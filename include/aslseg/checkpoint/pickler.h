// Emits pickle opcodes (protocol 2) one by one: what write_torch_state_dict needs to produce
// the data.pkl of a torch.save file, and what tests use to build exact (or hostile) pickles.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace aslseg::checkpoint {

class Pickler {
 public:
  static constexpr int kProtocol = 2;

  // Starts with PROTO 2.
  Pickler();

  void mark();
  void stop();
  void none();
  void boolean(bool value);
  // The shortest of BININT1, BININT2, BININT; LONG1 with 8 bytes beyond 32 bits (the only
  // LONG1 length LibTorch's own unpickler accepts).
  void integer(int64_t value);
  void binfloat(double value);
  void string(std::string_view utf8);  // BINUNICODE
  void bytes(std::string_view raw);    // BINBYTES (protocol 3)
  void global(std::string_view module, std::string_view name);
  void empty_tuple();
  void tuple();  // from the last mark
  void empty_dict();
  void empty_list();
  void setitem();
  void setitems();  // from the last mark
  void append();
  void appends();  // from the last mark
  void reduce();
  void build();
  void binpersid();
  void binput(uint32_t index);
  void binget(uint32_t index);
  // Any byte, for tests that need an opcode this class does not otherwise emit.
  void raw(std::string_view bytes) { out_.append(bytes); }

  const std::string& bytes() const { return out_; }

 private:
  void op(uint8_t code) { out_.push_back(static_cast<char>(code)); }
  void le(uint64_t value, int width);

  std::string out_;
};

}  // namespace aslseg::checkpoint
