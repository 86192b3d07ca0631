// CVulkan: the C view of Vulkan that the Swift runtime uses.
// It includes the system header and adds the VK_KHR_cooperative_matrix declarations that older
// headers (Debian 12 ships 1.3.239) lack, as real C declarations that Swift can import.
#ifndef QLINEAR_CVULKAN_H
#define QLINEAR_CVULKAN_H

#include <vulkan/vulkan.h>
#include <stdint.h>

#ifndef VK_KHR_cooperative_matrix
#define VK_KHR_cooperative_matrix 1
typedef enum VkComponentTypeKHR {
    VK_COMPONENT_TYPE_FLOAT16_KHR = 0,
    VK_COMPONENT_TYPE_FLOAT32_KHR = 1,
    VK_COMPONENT_TYPE_FLOAT64_KHR = 2,
    VK_COMPONENT_TYPE_SINT8_KHR = 3,
    VK_COMPONENT_TYPE_SINT16_KHR = 4,
    VK_COMPONENT_TYPE_SINT32_KHR = 5,
    VK_COMPONENT_TYPE_SINT64_KHR = 6,
    VK_COMPONENT_TYPE_UINT8_KHR = 7,
    VK_COMPONENT_TYPE_UINT16_KHR = 8,
    VK_COMPONENT_TYPE_UINT32_KHR = 9,
    VK_COMPONENT_TYPE_UINT64_KHR = 10,
    VK_COMPONENT_TYPE_MAX_ENUM_KHR = 0x7FFFFFFF
} VkComponentTypeKHR;
typedef enum VkScopeKHR {
    VK_SCOPE_DEVICE_KHR = 1,
    VK_SCOPE_WORKGROUP_KHR = 2,
    VK_SCOPE_SUBGROUP_KHR = 3,
    VK_SCOPE_QUEUE_FAMILY_KHR = 5,
    VK_SCOPE_MAX_ENUM_KHR = 0x7FFFFFFF
} VkScopeKHR;
typedef struct VkCooperativeMatrixPropertiesKHR {
    VkStructureType sType;
    void *pNext;
    uint32_t MSize;
    uint32_t NSize;
    uint32_t KSize;
    VkComponentTypeKHR AType;
    VkComponentTypeKHR BType;
    VkComponentTypeKHR CType;
    VkComponentTypeKHR ResultType;
    VkBool32 saturatingAccumulation;
    VkScopeKHR scope;
} VkCooperativeMatrixPropertiesKHR;
typedef struct VkPhysicalDeviceCooperativeMatrixFeaturesKHR {
    VkStructureType sType;
    void *pNext;
    VkBool32 cooperativeMatrix;
    VkBool32 cooperativeMatrixRobustBufferAccess;
} VkPhysicalDeviceCooperativeMatrixFeaturesKHR;
typedef VkResult (VKAPI_PTR *PFN_vkGetPhysicalDeviceCooperativeMatrixPropertiesKHR)(
    VkPhysicalDevice physicalDevice, uint32_t *pPropertyCount, VkCooperativeMatrixPropertiesKHR *pProperties);
#endif

// Values Swift cannot import from macros or from enums the header may lack.
static const VkStructureType QLV_STYPE_COOPMAT_FEATURES_KHR = (VkStructureType)1000506000;
static const VkStructureType QLV_STYPE_COOPMAT_PROPERTIES_KHR = (VkStructureType)1000506001;
static const uint32_t QLV_COMPONENT_BFLOAT16_KHR = 1000141000u;
static const uint32_t QLV_API_VERSION_1_2 = VK_MAKE_API_VERSION(0, 1, 2, 0);
static const uint32_t QLV_API_VERSION_1_3 = VK_MAKE_API_VERSION(0, 1, 3, 0);
static const uint64_t QLV_WHOLE_SIZE = VK_WHOLE_SIZE;
static const uint32_t QLV_QUEUE_FAMILY_IGNORED = VK_QUEUE_FAMILY_IGNORED;

/// Returns vkGetPhysicalDeviceCooperativeMatrixPropertiesKHR's entries for `device`, or -1 when
/// the instance has no such entry point. `props` may be NULL to ask for the count.
static inline VkResult qlv_get_coopmat_properties(VkInstance instance, VkPhysicalDevice device,
                                                  uint32_t *count, VkCooperativeMatrixPropertiesKHR *props) {
    PFN_vkGetPhysicalDeviceCooperativeMatrixPropertiesKHR fn =
        (PFN_vkGetPhysicalDeviceCooperativeMatrixPropertiesKHR)vkGetInstanceProcAddr(
            instance, "vkGetPhysicalDeviceCooperativeMatrixPropertiesKHR");
    if (!fn) { *count = 0; return VK_ERROR_EXTENSION_NOT_PRESENT; }
    return fn(device, count, props);
}

/// vkCreateDebugUtilsMessengerEXT through the instance's dispatch (an extension entry point the
/// loader does not export); VK_ERROR_EXTENSION_NOT_PRESENT when the instance lacks it.
static inline VkResult qlv_create_debug_messenger(VkInstance instance, const VkDebugUtilsMessengerCreateInfoEXT *info,
                                                  VkDebugUtilsMessengerEXT *messenger) {
    PFN_vkCreateDebugUtilsMessengerEXT fn =
        (PFN_vkCreateDebugUtilsMessengerEXT)vkGetInstanceProcAddr(instance, "vkCreateDebugUtilsMessengerEXT");
    if (!fn) return VK_ERROR_EXTENSION_NOT_PRESENT;
    return fn(instance, info, NULL, messenger);
}

static inline void qlv_destroy_debug_messenger(VkInstance instance, VkDebugUtilsMessengerEXT messenger) {
    PFN_vkDestroyDebugUtilsMessengerEXT fn =
        (PFN_vkDestroyDebugUtilsMessengerEXT)vkGetInstanceProcAddr(instance, "vkDestroyDebugUtilsMessengerEXT");
    if (fn) fn(instance, messenger, NULL);
}

/// vkGetPipelineExecutablePropertiesKHR through vkGetDeviceProcAddr (VK_KHR_pipeline_executable_properties
/// is a device extension the loader does not export); VK_ERROR_EXTENSION_NOT_PRESENT when the
/// device has no such entry point (the extension was not enabled). `props` may be NULL to ask
/// for the count.
static inline VkResult qlv_get_pipeline_executable_properties(VkDevice device, VkPipeline pipeline, uint32_t *count,
                                                              VkPipelineExecutablePropertiesKHR *props) {
    PFN_vkGetPipelineExecutablePropertiesKHR fn =
        (PFN_vkGetPipelineExecutablePropertiesKHR)vkGetDeviceProcAddr(device, "vkGetPipelineExecutablePropertiesKHR");
    if (!fn) { *count = 0; return VK_ERROR_EXTENSION_NOT_PRESENT; }
    VkPipelineInfoKHR info = { VK_STRUCTURE_TYPE_PIPELINE_INFO_KHR, NULL, pipeline };
    return fn(device, &info, count, props);
}

/// vkGetPipelineExecutableStatisticsKHR for executable `index` of `pipeline`, loaded like the
/// function above. `stats` may be NULL to ask for the count.
static inline VkResult qlv_get_pipeline_executable_statistics(VkDevice device, VkPipeline pipeline, uint32_t index,
                                                              uint32_t *count, VkPipelineExecutableStatisticKHR *stats) {
    PFN_vkGetPipelineExecutableStatisticsKHR fn =
        (PFN_vkGetPipelineExecutableStatisticsKHR)vkGetDeviceProcAddr(device, "vkGetPipelineExecutableStatisticsKHR");
    if (!fn) { *count = 0; return VK_ERROR_EXTENSION_NOT_PRESENT; }
    VkPipelineExecutableInfoKHR info = { VK_STRUCTURE_TYPE_PIPELINE_EXECUTABLE_INFO_KHR, NULL, pipeline, index };
    return fn(device, &info, count, stats);
}

#endif
