from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class SharingClass(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    SHARING_CLASS_UNSPECIFIED: _ClassVar[SharingClass]
    SHARING_CLASS_UNCONDITIONAL: _ClassVar[SharingClass]
    SHARING_CLASS_CONDITIONAL: _ClassVar[SharingClass]
    SHARING_CLASS_NOT_SHARED: _ClassVar[SharingClass]

class HolderKind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    HOLDER_KIND_UNSPECIFIED: _ClassVar[HolderKind]
    HOLDER_KIND_PERSON: _ClassVar[HolderKind]
    HOLDER_KIND_ORGANIZATION: _ClassVar[HolderKind]

class Sensitivity(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    SENSITIVITY_UNSPECIFIED: _ClassVar[Sensitivity]
    SENSITIVITY_NORMAL: _ClassVar[Sensitivity]
    SENSITIVITY_SENSITIVE: _ClassVar[Sensitivity]
    SENSITIVITY_SECRET: _ClassVar[Sensitivity]
SHARING_CLASS_UNSPECIFIED: SharingClass
SHARING_CLASS_UNCONDITIONAL: SharingClass
SHARING_CLASS_CONDITIONAL: SharingClass
SHARING_CLASS_NOT_SHARED: SharingClass
HOLDER_KIND_UNSPECIFIED: HolderKind
HOLDER_KIND_PERSON: HolderKind
HOLDER_KIND_ORGANIZATION: HolderKind
SENSITIVITY_UNSPECIFIED: Sensitivity
SENSITIVITY_NORMAL: Sensitivity
SENSITIVITY_SENSITIVE: Sensitivity
SENSITIVITY_SECRET: Sensitivity

class FieldSpec(_message.Message):
    __slots__ = ("key", "label", "value_type", "required", "max_length", "sensitivity", "sharing_class", "choices", "form_labels", "of_holder", "masking", "may_be_future")
    KEY_FIELD_NUMBER: _ClassVar[int]
    LABEL_FIELD_NUMBER: _ClassVar[int]
    VALUE_TYPE_FIELD_NUMBER: _ClassVar[int]
    REQUIRED_FIELD_NUMBER: _ClassVar[int]
    MAX_LENGTH_FIELD_NUMBER: _ClassVar[int]
    SENSITIVITY_FIELD_NUMBER: _ClassVar[int]
    SHARING_CLASS_FIELD_NUMBER: _ClassVar[int]
    CHOICES_FIELD_NUMBER: _ClassVar[int]
    FORM_LABELS_FIELD_NUMBER: _ClassVar[int]
    OF_HOLDER_FIELD_NUMBER: _ClassVar[int]
    MASKING_FIELD_NUMBER: _ClassVar[int]
    MAY_BE_FUTURE_FIELD_NUMBER: _ClassVar[int]
    key: str
    label: str
    value_type: str
    required: bool
    max_length: int
    sensitivity: Sensitivity
    sharing_class: SharingClass
    choices: _containers.RepeatedScalarFieldContainer[str]
    form_labels: _containers.RepeatedScalarFieldContainer[str]
    of_holder: str
    masking: str
    may_be_future: bool
    def __init__(self, key: _Optional[str] = ..., label: _Optional[str] = ..., value_type: _Optional[str] = ..., required: _Optional[bool] = ..., max_length: _Optional[int] = ..., sensitivity: _Optional[_Union[Sensitivity, str]] = ..., sharing_class: _Optional[_Union[SharingClass, str]] = ..., choices: _Optional[_Iterable[str]] = ..., form_labels: _Optional[_Iterable[str]] = ..., of_holder: _Optional[str] = ..., masking: _Optional[str] = ..., may_be_future: _Optional[bool] = ...) -> None: ...

class LicenseType(_message.Message):
    __slots__ = ("type_code", "name", "name_en", "holder_kind", "holder_code_types", "sharing_class", "expires", "issuer_codes", "fields", "license_number_label", "license_number_of_holder", "lifelong")
    TYPE_CODE_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    NAME_EN_FIELD_NUMBER: _ClassVar[int]
    HOLDER_KIND_FIELD_NUMBER: _ClassVar[int]
    HOLDER_CODE_TYPES_FIELD_NUMBER: _ClassVar[int]
    SHARING_CLASS_FIELD_NUMBER: _ClassVar[int]
    EXPIRES_FIELD_NUMBER: _ClassVar[int]
    ISSUER_CODES_FIELD_NUMBER: _ClassVar[int]
    FIELDS_FIELD_NUMBER: _ClassVar[int]
    LICENSE_NUMBER_LABEL_FIELD_NUMBER: _ClassVar[int]
    LICENSE_NUMBER_OF_HOLDER_FIELD_NUMBER: _ClassVar[int]
    LIFELONG_FIELD_NUMBER: _ClassVar[int]
    type_code: str
    name: str
    name_en: str
    holder_kind: HolderKind
    holder_code_types: _containers.RepeatedScalarFieldContainer[str]
    sharing_class: SharingClass
    expires: bool
    issuer_codes: _containers.RepeatedScalarFieldContainer[str]
    fields: _containers.RepeatedCompositeFieldContainer[FieldSpec]
    license_number_label: str
    license_number_of_holder: bool
    lifelong: bool
    def __init__(self, type_code: _Optional[str] = ..., name: _Optional[str] = ..., name_en: _Optional[str] = ..., holder_kind: _Optional[_Union[HolderKind, str]] = ..., holder_code_types: _Optional[_Iterable[str]] = ..., sharing_class: _Optional[_Union[SharingClass, str]] = ..., expires: _Optional[bool] = ..., issuer_codes: _Optional[_Iterable[str]] = ..., fields: _Optional[_Iterable[_Union[FieldSpec, _Mapping]]] = ..., license_number_label: _Optional[str] = ..., license_number_of_holder: _Optional[bool] = ..., lifelong: _Optional[bool] = ...) -> None: ...

class Material(_message.Message):
    __slots__ = ("type_code", "fields", "full_fields", "required")
    TYPE_CODE_FIELD_NUMBER: _ClassVar[int]
    FIELDS_FIELD_NUMBER: _ClassVar[int]
    FULL_FIELDS_FIELD_NUMBER: _ClassVar[int]
    REQUIRED_FIELD_NUMBER: _ClassVar[int]
    type_code: str
    fields: _containers.RepeatedScalarFieldContainer[str]
    full_fields: _containers.RepeatedScalarFieldContainer[str]
    required: bool
    def __init__(self, type_code: _Optional[str] = ..., fields: _Optional[_Iterable[str]] = ..., full_fields: _Optional[_Iterable[str]] = ..., required: _Optional[bool] = ...) -> None: ...

class Matter(_message.Message):
    __slots__ = ("matter_code", "name", "purpose", "department", "materials")
    MATTER_CODE_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    PURPOSE_FIELD_NUMBER: _ClassVar[int]
    DEPARTMENT_FIELD_NUMBER: _ClassVar[int]
    MATERIALS_FIELD_NUMBER: _ClassVar[int]
    matter_code: str
    name: str
    purpose: str
    department: str
    materials: _containers.RepeatedCompositeFieldContainer[Material]
    def __init__(self, matter_code: _Optional[str] = ..., name: _Optional[str] = ..., purpose: _Optional[str] = ..., department: _Optional[str] = ..., materials: _Optional[_Iterable[_Union[Material, _Mapping]]] = ...) -> None: ...

class Bundle(_message.Message):
    __slots__ = ("bundle_code", "name", "matter_codes")
    BUNDLE_CODE_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    MATTER_CODES_FIELD_NUMBER: _ClassVar[int]
    bundle_code: str
    name: str
    matter_codes: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, bundle_code: _Optional[str] = ..., name: _Optional[str] = ..., matter_codes: _Optional[_Iterable[str]] = ...) -> None: ...

class ListLicenseTypesRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ListLicenseTypesResponse(_message.Message):
    __slots__ = ("license_types",)
    LICENSE_TYPES_FIELD_NUMBER: _ClassVar[int]
    license_types: _containers.RepeatedCompositeFieldContainer[LicenseType]
    def __init__(self, license_types: _Optional[_Iterable[_Union[LicenseType, _Mapping]]] = ...) -> None: ...

class GetLicenseTypeRequest(_message.Message):
    __slots__ = ("type_code",)
    TYPE_CODE_FIELD_NUMBER: _ClassVar[int]
    type_code: str
    def __init__(self, type_code: _Optional[str] = ...) -> None: ...

class GetLicenseTypeResponse(_message.Message):
    __slots__ = ("license_type",)
    LICENSE_TYPE_FIELD_NUMBER: _ClassVar[int]
    license_type: LicenseType
    def __init__(self, license_type: _Optional[_Union[LicenseType, _Mapping]] = ...) -> None: ...

class ListMattersRequest(_message.Message):
    __slots__ = ("bundle_code",)
    BUNDLE_CODE_FIELD_NUMBER: _ClassVar[int]
    bundle_code: str
    def __init__(self, bundle_code: _Optional[str] = ...) -> None: ...

class ListMattersResponse(_message.Message):
    __slots__ = ("matters", "bundles")
    MATTERS_FIELD_NUMBER: _ClassVar[int]
    BUNDLES_FIELD_NUMBER: _ClassVar[int]
    matters: _containers.RepeatedCompositeFieldContainer[Matter]
    bundles: _containers.RepeatedCompositeFieldContainer[Bundle]
    def __init__(self, matters: _Optional[_Iterable[_Union[Matter, _Mapping]]] = ..., bundles: _Optional[_Iterable[_Union[Bundle, _Mapping]]] = ...) -> None: ...

class GetMatterRequest(_message.Message):
    __slots__ = ("matter_code",)
    MATTER_CODE_FIELD_NUMBER: _ClassVar[int]
    matter_code: str
    def __init__(self, matter_code: _Optional[str] = ...) -> None: ...

class GetMatterResponse(_message.Message):
    __slots__ = ("matter",)
    MATTER_FIELD_NUMBER: _ClassVar[int]
    matter: Matter
    def __init__(self, matter: _Optional[_Union[Matter, _Mapping]] = ...) -> None: ...
