// A minimal, safe reader of Python pickles, for the pickles inside torch.save files (protocol 2;
// the basics of 3-5). It never calls anything: a GLOBAL outside a short allow-list (the
// OrderedDict and tensor-rebuilding functions and tensor storage types of PyTorch) is refused,
// REDUCE of an allowed function only records the call for the caller to interpret
// (torch_pth.cpp), and limits on memo, stack, values and string length keep hostile input
// from exhausting memory. The value model is torch-free.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace aslseg::checkpoint {

// One pickled value. Containers point at other values owned by the same Unpickler (a pickle
// may share a value between containers, or make a container hold itself: consumers must not
// recurse without a depth bound).
struct PickleValue {
  enum class Kind {
    kNone,
    kBool,
    kInt,
    kFloat,
    kString,        // text: UTF-8
    kBytes,         // text: raw bytes
    kTuple,         // items
    kList,          // items
    kDict,          // entries in insertion order; ordered: built by collections.OrderedDict
    kGlobal,        // text: "module.name", from the allow-list
    kCall,          // items[0]: the kGlobal called, items[1]: its argument tuple
    kPersistentId,  // items[0]: the id (torch: a tuple describing a storage)
  };
  Kind kind = Kind::kNone;
  bool boolean = false;
  bool ordered = false;
  int64_t integer = 0;
  double real = 0.0;
  std::string text;
  std::vector<const PickleValue*> items;
  std::vector<std::pair<const PickleValue*, const PickleValue*>> entries;

  bool is(Kind k) const { return kind == k; }
  bool is_global(std::string_view name) const { return kind == Kind::kGlobal && text == name; }
};

// Short name of a kind for error messages ("dict", "tuple" ...).
const char* kind_name(PickleValue::Kind kind);

struct UnpickleLimits {
  size_t max_values = size_t{1} << 21;   // values created (each costs ~150 bytes)
  size_t max_items = size_t{1} << 22;    // container slots, all containers together
  size_t max_stack = size_t{1} << 20;    // stack depth, all marks' sections together
  size_t max_marks = size_t{1} << 12;    // nested MARKs
  size_t max_memo = size_t{1} << 20;     // memo entries
  size_t max_string = size_t{16} << 20;  // bytes in one string or bytes object
};

class Unpickler {
 public:
  // Globals a pickle may name; anything else is refused.
  static bool allowed_global(std::string_view dotted_name);

  // `source` names the input in errors (InputError(source, "pickle: ...")).
  Unpickler(std::string bytes, std::string source, UnpickleLimits limits = {});
  ~Unpickler();
  Unpickler(const Unpickler&) = delete;
  Unpickler& operator=(const Unpickler&) = delete;

  // Runs the pickle to its STOP; the result lives as long as this Unpickler.
  const PickleValue& load();

 private:
  std::string bytes_;
  std::string source_;
  UnpickleLimits limits_;
  std::vector<std::unique_ptr<PickleValue>> arena_;
  const PickleValue* root_ = nullptr;
};

}  // namespace aslseg::checkpoint
