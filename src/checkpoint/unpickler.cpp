#include "aslseg/checkpoint/unpickler.h"

#include <array>
#include <cstdio>
#include <cstring>
#include <unordered_map>

#include "aslseg/io/error.h"
#include "pickle_opcodes.h"

namespace aslseg::checkpoint {

namespace {

namespace op = pickle_op;
using Kind = PickleValue::Kind;

constexpr const char* kOrderedDict = "collections.OrderedDict";
constexpr const char* kRebuildTensor = "torch._utils._rebuild_tensor_v2";
constexpr const char* kRebuildParameter = "torch._utils._rebuild_parameter";
// Functions REDUCE may "call" (recorded, never run), then data-only globals.
constexpr std::array<const char*, 3> kCallableGlobals{kOrderedDict, kRebuildTensor,
                                                      kRebuildParameter};
constexpr std::array<const char*, 10> kStorageGlobals{
    "torch.FloatStorage", "torch.HalfStorage", "torch.BFloat16Storage", "torch.DoubleStorage",
    "torch.LongStorage",  "torch.IntStorage",  "torch.ShortStorage",    "torch.CharStorage",
    "torch.ByteStorage",  "torch.BoolStorage"};
constexpr size_t kMaxGlobalLine = 256;  // "module\n" or "name\n" of a GLOBAL
constexpr size_t kMaxLongBytes = 8;     // LONG1 beyond int64 is refused
constexpr size_t kFrameLength = 8;

bool is_callable_global(std::string_view name) {
  for (const char* g : kCallableGlobals)
    if (name == g) return true;
  return false;
}

// The pickle virtual machine for one load(); values go to the Unpickler's arena.
class Machine {
 public:
  Machine(std::string_view bytes, const std::string& source, const UnpickleLimits& limits,
          std::vector<std::unique_ptr<PickleValue>>& arena)
      : bytes_(bytes), source_(source), limits_(limits), arena_(arena) {}

  const PickleValue* run();

 private:
  [[noreturn]] void fail(const std::string& problem) const {
    throw InputError(source_,
                     "pickle: " + problem + " (at byte " + std::to_string(opcode_at_) + ")");
  }
  const char* take(size_t n) {
    if (bytes_.size() - pos_ < n) fail("truncated (ends inside an opcode's argument)");
    const char* p = bytes_.data() + pos_;
    pos_ += n;
    return p;
  }
  uint64_t take_le(size_t n) {
    const auto* p = reinterpret_cast<const unsigned char*>(take(n));
    uint64_t v = 0;
    for (size_t i = n; i-- > 0;) v = (v << 8) | p[i];
    return v;
  }
  std::string take_line() {
    const size_t limit = std::min(bytes_.size(), pos_ + kMaxGlobalLine);
    for (size_t i = pos_; i < limit; ++i) {
      if (bytes_[i] == '\n') {
        std::string line(bytes_.substr(pos_, i - pos_));
        pos_ = i + 1;
        return line;
      }
    }
    fail("GLOBAL name missing its newline or too long");
  }
  std::string take_string(uint64_t n) {
    if (n > limits_.max_string)
      fail("string of " + std::to_string(n) + " bytes exceeds the limit of " +
           std::to_string(limits_.max_string));
    if (n > bytes_.size() - pos_) fail("string of " + std::to_string(n) + " bytes is truncated");
    return std::string(take(n), n);
  }

  PickleValue* make(Kind kind) {
    if (arena_.size() >= limits_.max_values)
      fail("more than " + std::to_string(limits_.max_values) + " values");
    arena_.push_back(std::make_unique<PickleValue>());
    arena_.back()->kind = kind;
    return arena_.back().get();
  }
  void count_items(size_t n) {
    items_ += n;
    if (items_ > limits_.max_items)
      fail("containers hold more than " + std::to_string(limits_.max_items) + " items");
  }
  size_t floor() const { return marks_.empty() ? 0 : marks_.back(); }
  void push(PickleValue* v) {
    if (stack_.size() >= limits_.max_stack)
      fail("stack deeper than " + std::to_string(limits_.max_stack));
    stack_.push_back(v);
  }
  PickleValue* pop() {
    if (stack_.size() <= floor()) fail("stack underflow");
    PickleValue* v = stack_.back();
    stack_.pop_back();
    return v;
  }
  PickleValue* top() {
    if (stack_.size() <= floor()) fail("stack underflow");
    return stack_.back();
  }
  // The values pushed since the last MARK, which is removed.
  std::vector<PickleValue*> pop_mark() {
    if (marks_.empty()) fail("no MARK to pop to");
    const size_t start = marks_.back();
    marks_.pop_back();
    std::vector<PickleValue*> items(stack_.begin() + static_cast<std::ptrdiff_t>(start),
                                    stack_.end());
    stack_.resize(start);
    return items;
  }
  void memo_put(uint64_t index) {
    PickleValue* v = top();
    if (memo_.size() >= limits_.max_memo && !memo_.count(index))
      fail("memo larger than " + std::to_string(limits_.max_memo) + " entries");
    memo_[index] = v;
  }
  void memo_get(uint64_t index) {
    const auto it = memo_.find(index);
    if (it == memo_.end()) fail("memo entry " + std::to_string(index) + " was never stored");
    push(it->second);
  }
  PickleValue* tuple(std::vector<PickleValue*> items) {
    count_items(items.size());
    PickleValue* t = make(Kind::kTuple);
    t->items.assign(items.begin(), items.end());
    return t;
  }
  void global(const std::string& module, const std::string& name) {
    const std::string dotted = module + "." + name;
    if (!Unpickler::allowed_global(dotted))
      fail("refusing to load global '" + dotted +
           "' (only tensors, storages and OrderedDict may appear in a checkpoint)");
    PickleValue* g = make(Kind::kGlobal);
    g->text = dotted;
    push(g);
  }
  void reduce() {
    PickleValue* args = pop();
    PickleValue* callable = pop();
    if (!callable->is(Kind::kGlobal) || !is_callable_global(callable->text))
      fail("REDUCE of " +
           (callable->is(Kind::kGlobal) ? "'" + callable->text + "'" : kind_name(callable->kind)) +
           ", which cannot be called");
    if (!args->is(Kind::kTuple))
      fail("REDUCE arguments are a " + std::string(kind_name(args->kind)));
    if (callable->text == kOrderedDict) {
      if (!args->items.empty()) fail("OrderedDict built from arguments is not supported");
      PickleValue* d = make(Kind::kDict);
      d->ordered = true;
      push(d);
      return;
    }
    count_items(2);
    PickleValue* call = make(Kind::kCall);
    call->items = {callable, args};
    push(call);
  }
  PickleValue* dict_below(const char* opname) {
    PickleValue* d = top();
    if (!d->is(Kind::kDict)) fail(std::string(opname) + " on a " + kind_name(d->kind));
    return d;
  }
  PickleValue* list_below(const char* opname) {
    PickleValue* l = top();
    if (!l->is(Kind::kList)) fail(std::string(opname) + " on a " + kind_name(l->kind));
    return l;
  }
  bool step();

  std::string_view bytes_;
  const std::string& source_;
  const UnpickleLimits& limits_;
  std::vector<std::unique_ptr<PickleValue>>& arena_;
  size_t pos_ = 0;
  size_t opcode_at_ = 0;
  size_t items_ = 0;
  std::vector<PickleValue*> stack_;
  std::vector<size_t> marks_;
  std::unordered_map<uint64_t, PickleValue*> memo_;
  const PickleValue* result_ = nullptr;
};

const PickleValue* Machine::run() {
  while (true) {
    if (pos_ >= bytes_.size()) {
      opcode_at_ = pos_;
      fail("truncated (no STOP opcode)");
    }
    if (!step()) return result_;
  }
}

// Executes one opcode; false after STOP.
bool Machine::step() {
  opcode_at_ = pos_;
  const auto code = static_cast<uint8_t>(*take(1));
  switch (code) {
    case op::kProto: {
      const auto version = static_cast<uint8_t>(*take(1));
      if (version > op::kHighestProtocol)
        fail("unsupported pickle protocol " + std::to_string(version));
      return true;
    }
    case op::kFrame:  // framing only groups opcodes for buffered readers
      take(kFrameLength);
      return true;
    case op::kStop:
      result_ = pop();
      return false;
    case op::kMark:
      if (marks_.size() >= limits_.max_marks)
        fail("more than " + std::to_string(limits_.max_marks) + " nested MARKs");
      marks_.push_back(stack_.size());
      return true;
    case op::kPop:
      pop();
      return true;
    case op::kPopMark:
      pop_mark();
      return true;
    case op::kDup:
      push(top());
      return true;
    case op::kNone:
      push(make(Kind::kNone));
      return true;
    case op::kNewTrue:
    case op::kNewFalse: {
      PickleValue* b = make(Kind::kBool);
      b->boolean = code == op::kNewTrue;
      push(b);
      return true;
    }
    case op::kBinInt1:
    case op::kBinInt2:
    case op::kBinInt: {
      PickleValue* i = make(Kind::kInt);
      if (code == op::kBinInt)
        i->integer = static_cast<int32_t>(static_cast<uint32_t>(take_le(4)));
      else
        i->integer = static_cast<int64_t>(take_le(code == op::kBinInt1 ? 1 : 2));
      push(i);
      return true;
    }
    case op::kLong1: {
      const auto n = static_cast<uint8_t>(*take(1));
      if (n > kMaxLongBytes) fail("integer of " + std::to_string(n) + " bytes is too large");
      uint64_t raw = n ? take_le(n) : 0;
      // Sign-extend from n bytes (two's complement).
      if (n > 0 && n < kMaxLongBytes && (raw >> (8 * n - 1)) & 1) raw |= ~uint64_t{0} << (8 * n);
      PickleValue* i = make(Kind::kInt);
      i->integer = static_cast<int64_t>(raw);
      push(i);
      return true;
    }
    case op::kBinFloat: {
      const auto* p = reinterpret_cast<const unsigned char*>(take(8));
      uint64_t raw = 0;
      for (int k = 0; k < 8; ++k) raw = (raw << 8) | p[k];  // big-endian
      PickleValue* f = make(Kind::kFloat);
      std::memcpy(&f->real, &raw, sizeof raw);
      push(f);
      return true;
    }
    case op::kBinUnicode:
    case op::kShortBinUnicode:
    case op::kBinUnicode8:
    case op::kBinBytes:
    case op::kShortBinBytes:
    case op::kBinBytes8: {
      const size_t width = (code == op::kShortBinUnicode || code == op::kShortBinBytes) ? 1
                           : (code == op::kBinUnicode8 || code == op::kBinBytes8)       ? 8
                                                                                        : 4;
      const uint64_t n = take_le(width);
      const bool text =
          code == op::kBinUnicode || code == op::kShortBinUnicode || code == op::kBinUnicode8;
      PickleValue* s = make(text ? Kind::kString : Kind::kBytes);
      s->text = take_string(n);
      push(s);
      return true;
    }
    case op::kGlobal: {
      const std::string module = take_line();
      const std::string name = take_line();
      global(module, name);
      return true;
    }
    case op::kStackGlobal: {
      PickleValue* name = pop();
      PickleValue* module = pop();
      if (!name->is(Kind::kString) || !module->is(Kind::kString))
        fail("STACK_GLOBAL needs two strings");
      global(module->text, name->text);
      return true;
    }
    case op::kBinPut:
      memo_put(take_le(1));
      return true;
    case op::kLongBinPut:
      memo_put(take_le(4));
      return true;
    case op::kMemoize:
      memo_put(memo_.size());
      return true;
    case op::kBinGet:
      memo_get(take_le(1));
      return true;
    case op::kLongBinGet:
      memo_get(take_le(4));
      return true;
    case op::kEmptyTuple:
      push(tuple({}));
      return true;
    case op::kTuple1:
    case op::kTuple2:
    case op::kTuple3: {
      const size_t n = code - op::kTuple1 + 1;
      std::vector<PickleValue*> items(n);
      for (size_t k = n; k-- > 0;) items[k] = pop();
      push(tuple(std::move(items)));
      return true;
    }
    case op::kTuple:
      push(tuple(pop_mark()));
      return true;
    case op::kEmptyList:
      push(make(Kind::kList));
      return true;
    case op::kList: {
      auto items = pop_mark();
      count_items(items.size());
      PickleValue* l = make(Kind::kList);
      l->items.assign(items.begin(), items.end());
      push(l);
      return true;
    }
    case op::kEmptyDict:
      push(make(Kind::kDict));
      return true;
    case op::kDict:
    case op::kSetItems: {
      auto items = pop_mark();
      if (items.size() % 2) fail("odd number of items for a dict");
      PickleValue* d = code == op::kDict ? make(Kind::kDict) : dict_below("SETITEMS");
      count_items(items.size() / 2);
      for (size_t k = 0; k < items.size(); k += 2) d->entries.emplace_back(items[k], items[k + 1]);
      if (code == op::kDict) push(d);
      return true;
    }
    case op::kSetItem: {
      PickleValue* value = pop();
      PickleValue* key = pop();
      count_items(1);
      dict_below("SETITEM")->entries.emplace_back(key, value);
      return true;
    }
    case op::kAppend: {
      PickleValue* value = pop();
      count_items(1);
      list_below("APPEND")->items.push_back(value);
      return true;
    }
    case op::kAppends: {
      auto items = pop_mark();
      PickleValue* l = list_below("APPENDS");
      count_items(items.size());
      l->items.insert(l->items.end(), items.begin(), items.end());
      return true;
    }
    case op::kReduce:
      reduce();
      return true;
    case op::kBinPersId: {
      PickleValue* id = pop();
      count_items(1);
      PickleValue* p = make(Kind::kPersistentId);
      p->items = {id};
      push(p);
      return true;
    }
    case op::kBuild: {
      // Only the state torch.save attaches to an OrderedDict (its `_metadata`): ignored.
      pop();
      PickleValue* target = top();
      if (!target->is(Kind::kDict)) fail(std::string("BUILD on a ") + kind_name(target->kind));
      return true;
    }
    default: {
      char hex[8];
      std::snprintf(hex, sizeof hex, "0x%02x", code);
      fail(std::string("unsupported opcode ") + hex);
    }
  }
}

}  // namespace

const char* kind_name(PickleValue::Kind kind) {
  switch (kind) {
    case Kind::kNone:
      return "None";
    case Kind::kBool:
      return "bool";
    case Kind::kInt:
      return "int";
    case Kind::kFloat:
      return "float";
    case Kind::kString:
      return "str";
    case Kind::kBytes:
      return "bytes";
    case Kind::kTuple:
      return "tuple";
    case Kind::kList:
      return "list";
    case Kind::kDict:
      return "dict";
    case Kind::kGlobal:
      return "global";
    case Kind::kCall:
      return "call";
    case Kind::kPersistentId:
      return "persistent id";
  }
  return "?";
}

bool Unpickler::allowed_global(std::string_view dotted_name) {
  if (is_callable_global(dotted_name)) return true;
  for (const char* g : kStorageGlobals)
    if (dotted_name == g) return true;
  return false;
}

Unpickler::Unpickler(std::string bytes, std::string source, UnpickleLimits limits)
    : bytes_(std::move(bytes)), source_(std::move(source)), limits_(limits) {}

Unpickler::~Unpickler() = default;

const PickleValue& Unpickler::load() {
  if (!root_) {
    Machine machine(bytes_, source_, limits_, arena_);
    root_ = machine.run();
  }
  return *root_;
}

}  // namespace aslseg::checkpoint
