// The safe unpickler: the value model for every supported opcode, the global allow-list, and
// limits that stop memo, stack, mark, value and string bombs.
#include <gtest/gtest.h>

#include <string>

#include "aslseg/checkpoint/pickler.h"
#include "aslseg/checkpoint/unpickler.h"
#include "aslseg/io/error.h"

namespace aslseg::checkpoint {
namespace {

using Kind = PickleValue::Kind;
using namespace std::string_literals;  // pickles hold NUL bytes

const std::string kSource = "test.pkl";

// Loads and returns a copy of the root's kind, or the InputError's message.
std::string error_of(const std::string& bytes, UnpickleLimits limits = {}) {
  try {
    Unpickler u(bytes, kSource, limits);
    u.load();
  } catch (const InputError& e) {
    EXPECT_EQ(e.path(), kSource);
    return e.what();
  }
  return "";
}

TEST(Unpickler, BuildsEveryValueKind) {
  Pickler p;
  p.empty_dict();
  p.binput(0);
  p.mark();
  p.string("ints");
  p.mark();
  p.integer(7);          // BININT1
  p.integer(40000);      // BININT2
  p.integer(-5);         // BININT
  p.integer(1LL << 40);  // LONG1
  p.integer(-(1LL << 40));
  p.tuple();
  p.string("misc");
  p.mark();
  p.none();
  p.boolean(true);
  p.boolean(false);
  p.binfloat(-2.5);
  p.bytes(std::string("\x00\x01", 2));
  p.empty_tuple();
  p.tuple();
  p.string("list");
  p.empty_list();
  p.binput(300);  // LONG_BINPUT
  p.integer(1);
  p.append();
  p.mark();
  p.integer(2);
  p.integer(3);
  p.appends();
  p.setitems();
  p.string("again");
  p.binget(300);  // the same list, shared
  p.setitem();
  p.stop();

  Unpickler u(p.bytes(), kSource);
  const PickleValue& root = u.load();
  ASSERT_TRUE(root.is(Kind::kDict));
  EXPECT_FALSE(root.ordered);
  ASSERT_EQ(root.entries.size(), 4u);
  EXPECT_EQ(root.entries[0].first->text, "ints");
  EXPECT_EQ(root.entries[3].first->text, "again");  // insertion order

  const auto& ints = root.entries[0].second->items;
  ASSERT_EQ(ints.size(), 5u);
  EXPECT_EQ(ints[0]->integer, 7);
  EXPECT_EQ(ints[1]->integer, 40000);
  EXPECT_EQ(ints[2]->integer, -5);
  EXPECT_EQ(ints[3]->integer, 1LL << 40);
  EXPECT_EQ(ints[4]->integer, -(1LL << 40));

  const auto& misc = root.entries[1].second->items;
  ASSERT_EQ(misc.size(), 6u);
  EXPECT_TRUE(misc[0]->is(Kind::kNone));
  EXPECT_TRUE(misc[1]->boolean);
  EXPECT_FALSE(misc[2]->boolean);
  EXPECT_EQ(misc[3]->real, -2.5);
  EXPECT_TRUE(misc[4]->is(Kind::kBytes));
  EXPECT_EQ(misc[4]->text, std::string("\x00\x01", 2));
  EXPECT_TRUE(misc[5]->is(Kind::kTuple));
  EXPECT_TRUE(misc[5]->items.empty());

  const PickleValue* list = root.entries[2].second;
  ASSERT_TRUE(list->is(Kind::kList));
  ASSERT_EQ(list->items.size(), 3u);
  EXPECT_EQ(list->items[2]->integer, 3);
  EXPECT_EQ(root.entries[3].second, list);
}

TEST(Unpickler, ShortTupleOpcodesAndSignedLong1) {
  // Hand-written: TUPLE1..3, SHORT_BINUNICODE, LONG1 of 2 bytes (0xff7f = -129), FRAME.
  const std::string bytes = std::string("\x80\x04\x95\x00\x00\x00\x00\x00\x00\x00\x00", 11) +
                            "K\x01\x85" + "K\x01K\x02\x86" + "\x8c\x01xK\x02\x8a\x02\x7f\xff\x87" +
                            "\x87.";
  Unpickler u(bytes, kSource);
  const PickleValue& root = u.load();
  ASSERT_TRUE(root.is(Kind::kTuple));
  ASSERT_EQ(root.items.size(), 3u);
  EXPECT_EQ(root.items[0]->items.size(), 1u);
  EXPECT_EQ(root.items[1]->items[1]->integer, 2);
  EXPECT_EQ(root.items[2]->items[0]->text, "x");
  EXPECT_EQ(root.items[2]->items[2]->integer, -129);
}

TEST(Unpickler, OrderedDictAndTensorCallsAreRecordedNotRun) {
  Pickler p;
  p.global("collections", "OrderedDict");
  p.empty_tuple();
  p.reduce();
  p.mark();
  p.string("w");
  p.global("torch._utils", "_rebuild_tensor_v2");
  p.mark();
  p.mark();
  p.string("storage");
  p.global("torch", "HalfStorage");
  p.string("0");
  p.string("cpu");
  p.integer(4);
  p.tuple();
  p.binpersid();
  p.integer(0);
  p.tuple();
  p.reduce();
  p.setitems();
  p.empty_dict();  // the `_metadata` state torch.save attaches: ignored
  p.build();
  p.stop();
  Unpickler u(p.bytes(), kSource);
  const PickleValue& root = u.load();
  ASSERT_TRUE(root.is(Kind::kDict));
  EXPECT_TRUE(root.ordered);
  ASSERT_EQ(root.entries.size(), 1u);
  const PickleValue* call = root.entries[0].second;
  ASSERT_TRUE(call->is(Kind::kCall));
  EXPECT_TRUE(call->items[0]->is_global("torch._utils._rebuild_tensor_v2"));
  const PickleValue* pid = call->items[1]->items[0];
  ASSERT_TRUE(pid->is(Kind::kPersistentId));
  EXPECT_TRUE(pid->items[0]->items[1]->is_global("torch.HalfStorage"));
}

TEST(Unpickler, RefusesGlobalsOutsideTheAllowList) {
  // The classic exploit: os.system("...") via GLOBAL + REDUCE.
  const std::string exploit =
      "\x80\x02"
      "cos\nsystem\nX\x02\x00\x00\x00"
      "id\x85R."s;
  const std::string error = error_of(exploit);
  EXPECT_NE(error.find("refusing to load global 'os.system'"), std::string::npos) << error;
  EXPECT_NE(error.find(kSource), std::string::npos);

  EXPECT_NE(error_of("\x80\x04\x8c\x08"
                     "builtins\x8c\x04"
                     "eval\x93.")
                .find("builtins.eval"),
            std::string::npos);
  Pickler p;
  p.global("torch.nn.modules.conv", "Conv2d");
  p.stop();
  EXPECT_NE(error_of(p.bytes()).find("torch.nn.modules.conv.Conv2d"), std::string::npos);
  EXPECT_TRUE(Unpickler::allowed_global("torch.BFloat16Storage"));
  EXPECT_FALSE(Unpickler::allowed_global("torch.storage._load_from_bytes"));
}

TEST(Unpickler, RefusesCallingDataAndBuildingNonDicts) {
  Pickler p;
  p.global("torch", "FloatStorage");
  p.empty_tuple();
  p.reduce();
  p.stop();
  EXPECT_NE(error_of(p.bytes()).find("'torch.FloatStorage', which cannot be called"),
            std::string::npos);
  Pickler q;
  q.empty_list();
  q.empty_dict();
  q.build();
  q.stop();
  EXPECT_NE(error_of(q.bytes()).find("BUILD on a list"), std::string::npos);
}

TEST(Unpickler, UnsupportedOpcodeIsNamed) {
  const std::string error = error_of("\x80\x02(i__main__\nX\n."s);
  EXPECT_NE(error.find("unsupported opcode 0x69"), std::string::npos) << error;
  EXPECT_NE(error.find("at byte 3"), std::string::npos) << error;
}

TEST(Unpickler, MalformedStreamsAreInputErrors) {
  EXPECT_NE(error_of("").find("no STOP"), std::string::npos);
  EXPECT_NE(error_of("\x80\x02.").find("stack underflow"), std::string::npos);
  EXPECT_NE(error_of("\x80\x02h\x05.").find("memo entry 5 was never stored"), std::string::npos);
  EXPECT_NE(error_of("\x80\x02K\x01s.").find("stack underflow"), std::string::npos);
  EXPECT_NE(error_of("\x80\x02K\x01K\x02K\x03s.").find("SETITEM on a int"), std::string::npos);
  EXPECT_NE(error_of("\x80\x02(K\x01").find("no STOP"), std::string::npos);
  EXPECT_NE(error_of("\x80\x02u.").find("no MARK"), std::string::npos);
  EXPECT_NE(error_of("\x80\x09.").find("protocol 9"), std::string::npos);
  // A string whose declared length runs past the end (4 GiB - 1).
  EXPECT_NE(error_of("\x80\x02X\xff\xff\xff\xff").find("exceeds the limit"), std::string::npos);
  EXPECT_NE(error_of("\x80\x02X\x10\x00\x00\x00"
                     "abc"s)
                .find("truncated"),
            std::string::npos);
  EXPECT_NE(error_of("\x80\x02\x8a\x09\x01\x01\x01\x01\x01\x01\x01\x01\x01.").find("too large"),
            std::string::npos);
}

TEST(Unpickler, EveryTruncationIsAnInputError) {
  Pickler p;
  p.global("collections", "OrderedDict");
  p.empty_tuple();
  p.reduce();
  p.mark();
  p.string("a");
  p.binfloat(1.0);
  p.string("b");
  p.integer(1LL << 40);
  p.setitems();
  p.stop();
  const std::string full = p.bytes();
  for (size_t cut = 0; cut < full.size(); ++cut) {
    SCOPED_TRACE(cut);
    EXPECT_NE(error_of(full.substr(0, cut)), "");
  }
  EXPECT_EQ(error_of(full), "");
}

TEST(Unpickler, SelfReferenceLoadsWithoutLeakOrHang) {
  // l = []; l.append(l)
  Unpickler u(
      "\x80\x02]q\x00h\x00"
      "a."s,
      kSource);
  const PickleValue& root = u.load();
  ASSERT_EQ(root.items.size(), 1u);
  EXPECT_EQ(root.items[0], &root);
}

TEST(Unpickler, StackBombIsStopped) {
  UnpickleLimits limits;
  limits.max_stack = 1000;
  std::string bomb = "\x80\x02";
  for (int i = 0; i < 1001; ++i) bomb += "K\x01";
  EXPECT_NE(error_of(bomb + ".", limits).find("stack deeper than 1000"), std::string::npos);
  // With the default limit: two million pushes of one memoised value (4 MB of pickle).
  std::string big =
      "\x80\x02N"
      "q\x00"s;
  big.reserve(4u << 20);
  for (int i = 0; i < 2'000'000; ++i) big += "h\x00"s;
  EXPECT_NE(error_of(big + ".").find("stack deeper"), std::string::npos);
}

TEST(Unpickler, MemoBombIsStopped) {
  UnpickleLimits limits;
  limits.max_memo = 100;
  std::string bomb = "\x80\x02N";
  for (uint32_t i = 0; i < 101; ++i) {
    bomb += 'r';
    for (int k = 0; k < 4; ++k) bomb += static_cast<char>((i >> (8 * k)) & 0xFF);
  }
  EXPECT_NE(error_of(bomb + ".", limits).find("memo larger than 100"), std::string::npos);
  // Re-storing one index does not grow the memo.
  std::string same = "\x80\x02N";
  for (int i = 0; i < 500; ++i) same += "q\x07";
  EXPECT_EQ(error_of(same + ".", limits), "");
}

TEST(Unpickler, MarkValueAndItemBombsAreStopped) {
  std::string marks = "\x80\x02";
  marks.append(5000, '(');
  EXPECT_NE(error_of(marks + ".").find("nested MARKs"), std::string::npos);

  UnpickleLimits limits;
  limits.max_values = 50;
  std::string values = "\x80\x02(";
  for (int i = 0; i < 60; ++i) values += "N";
  EXPECT_NE(error_of(values + "t.", limits).find("more than 50 values"), std::string::npos);

  // A list that appends itself over and over: no new values, but container slots grow.
  limits = UnpickleLimits{};
  limits.max_items = 1000;
  std::string items = "\x80\x02]q\x00"s;
  for (int i = 0; i < 1001; ++i)
    items +=
        "h\x00"
        "a"s;
  EXPECT_NE(error_of(items + ".", limits).find("hold more than 1000 items"), std::string::npos);
}

}  // namespace
}  // namespace aslseg::checkpoint
