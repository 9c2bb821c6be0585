#include "aslseg/checkpoint/pickler.h"

#include <cstring>
#include <limits>
#include <stdexcept>

#include "pickle_opcodes.h"

namespace aslseg::checkpoint {

namespace op = pickle_op;

namespace {
constexpr uint64_t kByteMax = 0xFF;
constexpr uint64_t kShortMax = 0xFFFF;
constexpr int kLongBytes = 8;
}  // namespace

Pickler::Pickler() {
  op(op::kProto);
  op(kProtocol);
}

void Pickler::le(uint64_t value, int width) {
  for (int i = 0; i < width; ++i) out_.push_back(static_cast<char>((value >> (8 * i)) & 0xFF));
}

void Pickler::mark() { op(op::kMark); }
void Pickler::stop() { op(op::kStop); }
void Pickler::none() { op(op::kNone); }
void Pickler::boolean(bool value) { op(value ? op::kNewTrue : op::kNewFalse); }

void Pickler::integer(int64_t value) {
  if (value >= 0 && static_cast<uint64_t>(value) <= kByteMax) {
    op(op::kBinInt1);
    le(static_cast<uint64_t>(value), 1);
  } else if (value >= 0 && static_cast<uint64_t>(value) <= kShortMax) {
    op(op::kBinInt2);
    le(static_cast<uint64_t>(value), 2);
  } else if (value >= std::numeric_limits<int32_t>::min() &&
             value <= std::numeric_limits<int32_t>::max()) {
    op(op::kBinInt);
    le(static_cast<uint32_t>(static_cast<int32_t>(value)), 4);
  } else {
    op(op::kLong1);
    op(kLongBytes);
    le(static_cast<uint64_t>(value), kLongBytes);
  }
}

void Pickler::binfloat(double value) {
  uint64_t raw = 0;
  std::memcpy(&raw, &value, sizeof raw);
  op(op::kBinFloat);
  for (int i = 7; i >= 0; --i) out_.push_back(static_cast<char>((raw >> (8 * i)) & 0xFF));
}

void Pickler::string(std::string_view utf8) {
  if (utf8.size() > std::numeric_limits<uint32_t>::max())
    throw std::invalid_argument("Pickler::string: longer than BINUNICODE allows");
  op(op::kBinUnicode);
  le(utf8.size(), 4);
  out_.append(utf8);
}

void Pickler::bytes(std::string_view raw) {
  if (raw.size() > std::numeric_limits<uint32_t>::max())
    throw std::invalid_argument("Pickler::bytes: longer than BINBYTES allows");
  op(op::kBinBytes);
  le(raw.size(), 4);
  out_.append(raw);
}

void Pickler::global(std::string_view module, std::string_view name) {
  op(op::kGlobal);
  out_.append(module);
  out_.push_back('\n');
  out_.append(name);
  out_.push_back('\n');
}

void Pickler::empty_tuple() { op(op::kEmptyTuple); }
void Pickler::tuple() { op(op::kTuple); }
void Pickler::empty_dict() { op(op::kEmptyDict); }
void Pickler::empty_list() { op(op::kEmptyList); }
void Pickler::setitem() { op(op::kSetItem); }
void Pickler::setitems() { op(op::kSetItems); }
void Pickler::append() { op(op::kAppend); }
void Pickler::appends() { op(op::kAppends); }
void Pickler::reduce() { op(op::kReduce); }
void Pickler::build() { op(op::kBuild); }
void Pickler::binpersid() { op(op::kBinPersId); }

void Pickler::binput(uint32_t index) {
  if (index <= kByteMax) {
    op(op::kBinPut);
    le(index, 1);
  } else {
    op(op::kLongBinPut);
    le(index, 4);
  }
}

void Pickler::binget(uint32_t index) {
  if (index <= kByteMax) {
    op(op::kBinGet);
    le(index, 1);
  } else {
    op(op::kLongBinGet);
    le(index, 4);
  }
}

}  // namespace aslseg::checkpoint
