#include "aslseg/export/png_io.h"

#include <itkImage.h>
#include <itkImageFileReader.h>
#include <itkImageFileWriter.h>
#include <itkPNGImageIO.h>
#include <itkPNGImageIOFactory.h>
#include <itkRGBPixel.h>

#include <algorithm>
#include <fstream>
#include <iterator>
#include <mutex>

#include "aslseg/io/atomic_file.h"
#include "aslseg/io/error.h"

namespace aslseg::exporting {

namespace {

using ItkRgb = itk::RGBPixel<unsigned char>;
using ItkRgbImage = itk::Image<ItkRgb, 2>;
constexpr int kChannels = 3;

// Registered explicitly, like the volume formats in io/volume_io.cpp, so that a program
// linking the library finds PNG through ImageIOFactory too.
void register_png_factory() {
  static std::once_flag once;
  std::call_once(once, [] { itk::PNGImageIOFactory::RegisterOneFactory(); });
}

}  // namespace

void write_png(const RgbImage& image, const std::filesystem::path& path) {
  register_png_factory();
  auto itk_image = ItkRgbImage::New();
  ItkRgbImage::RegionType region;
  region.SetSize({{static_cast<itk::SizeValueType>(image.width),
                   static_cast<itk::SizeValueType>(image.height)}});
  itk_image->SetRegions(region);
  itk_image->Allocate();
  ItkRgb* buffer = itk_image->GetBufferPointer();
  for (int64_t i = 0; i < image.width * image.height; ++i)
    for (int c = 0; c < kChannels; ++c)
      buffer[i][static_cast<unsigned>(c)] = image.data[static_cast<size_t>(i * kChannels + c)];
  io::write_atomically(path, [&](const std::filesystem::path& tmp) {
    auto writer = itk::ImageFileWriter<ItkRgbImage>::New();
    writer->SetImageIO(itk::PNGImageIO::New());
    writer->SetFileName(tmp.string());
    writer->SetInput(itk_image);
    try {
      writer->Update();
    } catch (const itk::ExceptionObject& e) {
      throw InputError(path.string(), std::string("cannot write PNG: ") + e.GetDescription());
    }
  });
}

std::string encode_png(const RgbImage& image, const std::filesystem::path& scratch_dir) {
  const std::filesystem::path path = scratch_dir / "inline.png";
  write_png(image, path);
  std::ifstream in(path, std::ios::binary);
  std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::error_code ec;
  std::filesystem::remove(path, ec);
  if (bytes.empty()) throw InputError(path.string(), "PNG written but read back empty");
  return bytes;
}

RgbImage read_png(const std::filesystem::path& path) {
  register_png_factory();
  auto reader = itk::ImageFileReader<ItkRgbImage>::New();
  reader->SetImageIO(itk::PNGImageIO::New());
  reader->SetFileName(path.string());
  try {
    reader->Update();
  } catch (const itk::ExceptionObject& e) {
    throw InputError(path.string(), std::string("not a readable PNG: ") + e.GetDescription());
  }
  const ItkRgbImage* img = reader->GetOutput();
  const auto size = img->GetLargestPossibleRegion().GetSize();
  RgbImage out(static_cast<int64_t>(size[0]), static_cast<int64_t>(size[1]));
  const ItkRgb* buffer = img->GetBufferPointer();
  for (int64_t i = 0; i < out.width * out.height; ++i)
    for (int c = 0; c < kChannels; ++c)
      out.data[static_cast<size_t>(i * kChannels + c)] = buffer[i][static_cast<unsigned>(c)];
  return out;
}

}  // namespace aslseg::exporting
